#include "raw_frames.hpp"

#include <cstdint>
#include <cstring>
#include <fstream>
#include <stdexcept>

namespace testhost {

RawFrame readRawFrame(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  char magic[4];
  int32_t header[3];
  if (!file.read(magic, 4) || std::memcmp(magic, "MCRF", 4) != 0 ||
      !file.read(reinterpret_cast<char*>(header), sizeof header))
    throw std::runtime_error(path + ": not a raw frame file (MCRF header)");
  RawFrame frame{header[0], header[1], header[2], {}};
  if (frame.width <= 0 || frame.height <= 0 || (frame.channels != 1 && frame.channels != 4))
    throw std::runtime_error(path + ": bad size or channel count (1 or 4)");
  frame.samples.resize(size_t(frame.width) * size_t(frame.height) * size_t(frame.channels));
  if (!file.read(reinterpret_cast<char*>(frame.samples.data()), std::streamsize(frame.samples.size() * 4)))
    throw std::runtime_error(path + ": truncated");
  return frame;
}

void writeRawFrame(const std::string& path, const RawFrame& frame) {
  std::ofstream file(path, std::ios::binary);
  const int32_t header[3] = {frame.width, frame.height, frame.channels};
  file.write("MCRF", 4);
  file.write(reinterpret_cast<const char*>(header), sizeof header);
  file.write(reinterpret_cast<const char*>(frame.samples.data()), std::streamsize(frame.samples.size() * 4));
  if (!file) throw std::runtime_error(path + ": cannot write");
}

}  // namespace testhost
