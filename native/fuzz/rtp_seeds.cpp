// Writes a seed corpus for rtp_fuzz into the folder given as argv[1]: RTP with CSRCs, extension and
// padding, RFC 4733 payloads, and compound RTCP (SR/RR + SDES, BYE, APP). docs/fuzzing.md.
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace {

void Write(const std::string& dir, const char* name, const std::vector<uint8_t>& bytes) {
  const std::string path = dir + "/" + name;
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return;
  std::fwrite(bytes.data(), 1, bytes.size(), f);
  std::fclose(f);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  const std::string dir = argv[1];
  std::vector<uint8_t> pcma = {0x80, 0x08, 0x1f, 0x40, 0, 0, 0x13, 0x88, 0xde, 0xad, 0xbe, 0xef};
  pcma.resize(12 + 160, 0xd5);
  Write(dir, "rtp-pcma", pcma);
  Write(dir, "rtp-csrc-ext-pad",
        {0xb2, 0x80, 0, 1, 0, 0, 0, 160, 1, 2, 3, 4, 0, 0, 0, 5, 0, 0, 0, 6, 0xbe, 0xde, 0, 1, 0x10, 0xaa, 0, 0,
         0xff, 0xff, 0, 0, 0, 4});
  Write(dir, "rtp-dtmf-end", {0x80, 0xe5, 0, 9, 0, 0, 0x10, 0, 0, 0, 0, 1, 0x05, 0x8a, 0x03, 0x20});
  // SR with one report block + SDES CNAME "ab".
  Write(dir, "rtcp-sr-sdes",
        {0x81, 200, 0, 12, 0, 0, 0, 1, 0xe6, 0, 0, 0, 0x80, 0, 0, 0, 0, 0, 0x10, 0, 0, 0, 0, 50, 0, 0, 0x1f, 0x40,
         0, 0, 0, 2, 5, 0, 0, 3, 0, 1, 0, 100, 0, 0, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0,
         0x81, 202, 0, 2, 0, 0, 0, 1, 1, 2, 'a', 'b'});
  Write(dir, "rtcp-rr-bye", {0x80, 201, 0, 1, 0, 0, 0, 9, 0x81, 203, 0, 1, 0, 0, 0, 9});
  Write(dir, "rtcp-rr-app", {0x80, 201, 0, 1, 0, 0, 0, 9, 0x80, 204, 0, 2, 0, 0, 0, 9, 'n', 'a', 'm', 'e'});
  return 0;
}
