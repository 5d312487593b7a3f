// The frame files the tests hand the host: "MCRF", int32 width, height and
// channel count, then float32 samples, interleaved, top row first.
#pragma once

#include <string>
#include <vector>

namespace testhost {

struct RawFrame {
  int width = 0, height = 0, channels = 0;
  std::vector<float> samples;
};

// Throws std::runtime_error naming the file on any problem.
RawFrame readRawFrame(const std::string& path);
void writeRawFrame(const std::string& path, const RawFrame& frame);

// The alpha channel of an RGBA frame, as a host maps an RGBA clip to Alpha.
RawFrame alphaOf(const RawFrame& frame);

// Columns [left, left + width) and rows [top, top + height) of `frame` (rows counted from the top).
RawFrame crop(const RawFrame& frame, int left, int top, int width, int height);

}  // namespace testhost
