// Writes the SIP fuzz seed corpus (a few small messages) into the folder given as the only argument.
#include <cstdio>
#include <string>

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  const char* seeds[] = {
      "INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP pc33.example.com:5060;branch=z9hG4bK776;rport\r\n"
      "Max-Forwards: 70\r\nTo: Bob <sip:bob@example.com>\r\nFrom: \"Alice\" <sip:alice@example.com>;tag=1928\r\n"
      "Call-ID: a84b4c76e66710\r\nCSeq: 314159 INVITE\r\nContact: <sip:alice@pc33.example.com>, sip:x@y;q=0.5\r\n"
      "Content-Length: 4\r\n\r\nv=0\n",
      "SIP/2.0 200 OK\r\nv: SIP/2.0/TCP h;received=1.2.3.4, SIP/2.0/UDP [::1]:5060\r\nf: sip:a@b;tag=x\r\n"
      "t: <sip:c@d>\r\ni: xyz\r\nCSeq: 1 REGISTER\r\nm: *\r\nl: 0\r\n\r\n",
      "\r\nOPTIONS sip:h SIP/2.0\nVia: SIP/2.0/UDP h\n  ;branch=z9hG4bKx\nCall-ID: a b\nX-Custom : v\n\n",
  };
  int n = 0;
  for (const char* s : seeds) {
    std::string path = std::string(argv[1]) + "/seed-" + std::to_string(n++);
    FILE* f = std::fopen(path.c_str(), "wb");
    if (f == nullptr) return 1;
    std::fputs(s, f);
    std::fclose(f);
  }
  return 0;
}
