// CSTA XML over TCP (ECMA-323, "CSTA XML without SOAP" framing) frame splitter and event scanner.
//
// Wire format of one frame: bytes 0-1 = 0x00 0x00 (format indicator), bytes 2-3 = uint16 big-endian total
// length INCLUDING the 8 header bytes, bytes 4-7 = invokeID as 4 ASCII decimal digits, then the XML body.
//
// Pure C++: no N-API here. The scanner reads a byte range and writes a compact batch of int32 records
// (offsets into that same range) into a caller-supplied array; the binding glue hands both to TypeScript.
// Element names are matched on their local part only (prefixes and namespaces are ignored), so every
// ECMA-323 edition (ed2 ... ed6) and vendor namespace typos decode the same.
#pragma once

#include <cstddef>
#include <cstdint>

namespace switchhook {
namespace csta {

// Batch layout (int32 words). Header first, then entries back to back.
enum BatchHeader : int32_t {
  kHdrConsumed = 0,      // bytes of the input consumed (complete frames, skipped garbage)
  kHdrResyncing = 1,     // 1 when the scanner is hunting for the next plausible header
  kHdrSkipped = 2,       // bytes skipped while resynchronising in this call
  kHdrMessages = 3,      // message entries written
  kHdrErrors = 4,        // error entries written
  kHdrFatal = 5,         // 1 when a fatal error was written: the stream cannot resynchronise
  kHdrUsed = 6,          // words used, header included
  kHdrFull = 7,          // 1 when scanning stopped because the batch array was full
  kHdrDefs = 8,          // string-cache definitions written at the END of the batch array
  kHdrWords = 9,
};

enum EntryTag : int32_t { kTagMessage = 1, kTagError = 2 };

// Message entry: [kTagMessage, words, invokeId, xmlStart, xmlEnd, rootStart, rootLen, records...]
constexpr int32_t kMessageHead = 7;
// Record: [kind | flags << 8, s0, l0, s1, l1, s2, l2, s3, l3]. A value is a slice (s = offset, l = length
// >= 0), absent (s = -1, l = 0) or a string-cache slot (s = slot, l = kCached). Bits (2i, 2i+1) of flags
// tell how slice i becomes a string: 0 = the data bytes as they are, 1 = data bytes holding markup (CDATA,
// comments, references left to TypeScript) to decode, 2 = already decoded bytes in the scratch area.
constexpr int32_t kCached = -2;
constexpr int32_t kRecordWords = 9;
enum RecordKind : int32_t {
  kRecCrossRef = 1,      // v0 = monitorCrossRefID
  kRecConnection = 2,    // v0 = role element name, v1 = callID, v2 = deviceID
  kRecDevice = 3,        // v0 = role element name, v1 = device identifier
  kRecLocalConnInfo = 4, // v0 = localConnectionInfo
  kRecCause = 5,         // v0 = cause
  kRecTransferred = 6,   // v0 = new callID, v1 = new deviceID, v2 = old callID, v3 = old deviceID
  kRecField = 7,         // v0 = leaf element local name, v1 = text; flag 1 marks only CDATA/comments
                         // here: entity references are not looked for, the reader decodes text holding '&'
};
// Error entry: [kTagError, words, code, offset, invokeId (-1 unknown), detail, fatal]
constexpr int32_t kErrorWords = 7;
enum ErrorCode : int32_t {
  kErrFrameMagic = 1,     // bytes 0-1 are not 00 00; detail = first two bytes
  kErrFrameLength = 2,    // length field <= 8, or the document ends before the frame does; detail = length
  kErrFrameTooLarge = 3,  // length field above the cap; detail = length
  kErrInvokeId = 4,       // bytes 4-7 are not 4 ASCII digits
  kErrXml = 5,            // the body is not a well-formed enough document; detail = XmlProblem
  kErrResync = 6,         // no plausible header within the resync budget (fatal); detail = bytes skipped
};
enum XmlProblem : int32_t {
  kXmlNoRoot = 1,
  kXmlUnclosed = 2,       // document ends inside a tag, comment, CDATA or with open elements
  kXmlMismatch = 3,       // end tag does not match the open element
  kXmlBadMarkup = 4,      // '<' not followed by a name, '/', '?', '!--', '![CDATA[' or DOCTYPE
  kXmlTooDeep = 5,
  kXmlTextOutsideRoot = 6,
  kXmlBadAttribute = 7,
};

// String cache shared with TypeScript, one per stream: repeated values (element names, callIDs, device
// identifiers, causes) are sent once as a definition and then by slot number, so TypeScript builds each
// distinct string once. Direct-mapped: slot = hash(bytes) % slots; a slot holds [uint32 generation of its
// last use][uint32 length + 1, 0 = empty][bytes]. Definitions go at the end of the batch array, 4 words
// each from out[capacity - 4] downwards: [slot, s, l, how (0, 1, 2 as for record slices)]. Within one batch (one generation) a slot
// is never redefined once used, so TypeScript may apply all definitions of a batch before reading it.
constexpr uint32_t kCacheSlotBytes = 64;
constexpr uint32_t kCacheMaxValue = kCacheSlotBytes - 8;
struct StringCache {
  uint8_t* mem = nullptr;      // slots * kCacheSlotBytes bytes, zeroed before first use
  uint32_t slots = 0;          // a power of two; 0 disables the cache
  uint32_t gen = 1;            // batch generation, never 0
  uint8_t* scratch = nullptr;  // where values with entity references are decoded, rewritten every call
  size_t scratch_bytes = 0;
};

// Stream state carried between calls (owned by the caller, one per TCP direction).
struct StreamState {
  bool resyncing = false;
  uint32_t resync_skipped = 0;  // bytes skipped in the current resync episode
};

struct ScanLimits {
  uint32_t max_frame_bytes = 65535;      // frames longer than this are refused (FRAME_TOO_LARGE)
  uint32_t max_resync_bytes = 262144;    // a resync episode longer than this is fatal
};

// Scans data[0, size): every complete frame becomes a message or error entry in out[0, capacity).
// Stops at the first incomplete frame or when the batch is full (header kHdrFull, kHdrConsumed tells how far
// it got; call again with the rest). capacity must be at least kHdrWords. Never reads outside data.
void ScanFrames(const uint8_t* data, size_t size, const ScanLimits& limits, StreamState& state,
                const StringCache& cache, int32_t* out, size_t capacity);

}  // namespace csta
}  // namespace switchhook
