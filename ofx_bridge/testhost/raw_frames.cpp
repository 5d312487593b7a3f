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

RawFrame alphaOf(const RawFrame& frame) {
  RawFrame alpha{frame.width, frame.height, 1, {}};
  alpha.samples.resize(size_t(frame.width) * size_t(frame.height));
  for (size_t i = 0; i < alpha.samples.size(); ++i)
    alpha.samples[i] = frame.samples[i * size_t(frame.channels) + size_t(frame.channels - 1)];
  return alpha;
}

RawFrame crop(const RawFrame& frame, int left, int top, int width, int height) {
  RawFrame part{width, height, frame.channels, {}};
  const size_t rowSamples = size_t(width) * size_t(frame.channels);
  part.samples.resize(rowSamples * size_t(height));
  for (int row = 0; row < height; ++row)
    std::memcpy(
        &part.samples[size_t(row) * rowSamples],
        &frame.samples[(size_t(top + row) * size_t(frame.width) + size_t(left)) * size_t(frame.channels)],
        rowSamples * sizeof(float));
  return part;
}

}  // namespace testhost
