import t from 'tap';

import { legOptionsFromSdp, sdpForLeg } from '../../src/media/index.js';

const offer = (media: string, session = 'c=IN IP4 192.0.2.1\r\n') =>
  `v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\n${session}t=0 0\r\n${media}`;

t.test('RFC 4566/3264 audio stream to leg options', async (t) => {
  t.same(
    legOptionsFromSdp(
      offer('m=audio 49170 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n'),
    ),
    { remote: { address: '192.0.2.1', port: 49170 }, payloadType: 0, telephoneEventPayloadType: 101 },
  );
  // Media-level c= wins; a=rtcp (RFC 3605); PCMA preferred when listed first; no telephone-event.
  t.same(
    legOptionsFromSdp(offer('m=audio 5000 RTP/AVP 8 0\r\nc=IN IP4 198.51.100.7\r\na=rtcp:5009\r\n')),
    { remote: { address: '198.51.100.7', port: 5000, rtcpPort: 5009 }, payloadType: 8, telephoneEventPayloadType: null },
  );
  // rtcp-mux (RFC 5761): RTCP on the RTP port; dynamic PT named PCMA by rtpmap.
  t.match(legOptionsFromSdp(offer('m=audio 6000 RTP/AVP 96\r\na=rtpmap:96 PCMA/8000\r\na=rtcp-mux\r\n')), {
    remote: { rtcpPort: 6000 },
    payloadType: 96,
  });
});

t.test('unusable SDP is rejected with MEDIA_ERR_SDP', async (t) => {
  const bad = [
    offer('m=video 5000 RTP/AVP 96\r\n'),
    offer('m=audio 5000 RTP/AVP 0\r\n', ''),
    offer('m=audio 0 RTP/AVP 0\r\n'),
    offer('m=audio 5000 RTP/AVP 9 18\r\n'),
  ];
  for (const sdp of bad) t.throws(() => legOptionsFromSdp(sdp), { code: 'MEDIA_ERR_SDP' });
});

t.test('sdpForLeg describes a leg and parses back', async (t) => {
  const body = sdpForLeg({ address: '127.0.0.1', rtpPort: 40000, payloadType: 8, telephoneEventPayloadType: 101,
    sessionId: 7 });
  t.match(body, /^v=0\r\no=switchhook 7 7 IN IP4 127.0.0.1\r\n/);
  t.same(legOptionsFromSdp(body), {
    remote: { address: '127.0.0.1', port: 40000 },
    payloadType: 8,
    telephoneEventPayloadType: 101,
  });
  t.notMatch(sdpForLeg({ address: '127.0.0.1', rtpPort: 40000, payloadType: 0 }), /telephone-event/);
  t.throws(() => sdpForLeg({ address: '127.0.0.1', rtpPort: 40000, payloadType: 18 }), { code: 'MEDIA_ERR_SDP' });
});
