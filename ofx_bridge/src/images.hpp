// Host images in, planar samples out and back: the only code that touches
// pixel memory. OFX images are bottom row first (y up) with signed row bytes
// and bounds that need not start at 0; the wire is planar, top row first.
#pragma once

#include <string>

#include "ofx/core.h"

namespace movingcolor {

// A fetched clip image, released when it goes out of scope.
class ClipImage {
 public:
  ClipImage(OfxImageClipHandle clip, OfxTime time);
  ~ClipImage();
  ClipImage(const ClipImage&) = delete;
  ClipImage& operator=(const ClipImage&) = delete;

  bool valid() const { return handle_ != nullptr && data_ != nullptr; }
  // Why an image is unusable: not delivered, not float, not RGBA (or Alpha where `alphaTaken`);
  // "" when it is usable.
  std::string problem(const char* clipName, bool alphaTaken = false) const;
  const OfxRectI& bounds() const { return bounds_; }
  int components() const { return components_; }
  // Colours multiplied by the image's alpha (a keyed or rotoed element): the server takes straight
  // colours, so they are divided out before sending and multiplied back into the fused frame.
  bool premultiplied() const { return premultiplied_; }
  // The pixel at (x, y) in canonical coordinates; nullptr outside the bounds.
  const float* pixel(int x, int y) const;
  float* pixel(int x, int y);

 private:
  OfxPropertySetHandle handle_ = nullptr;
  char* data_ = nullptr;
  OfxRectI bounds_{0, 0, 0, 0};
  long rowBytes_ = 0;
  int components_ = 0;
  bool premultiplied_ = false;
  std::string depth_;
};

// Channels of `image` over `rect` as planar float32 bytes, top row first; pixels
// outside the image's bounds are 0. `first` and `count` pick channels (RGB: 0, 3).
// A one-channel (Alpha) image gives its channel whatever `first` asks for. A premultiplied image
// gives straight colours (divided by alpha where it is above 0); its alpha as it is.
std::string planar(const ClipImage& image, const OfxRectI& rect, int first, int count);

// Writes planar RGB `samples` (over `rect`, top row first) into `output` within `window`,
// alpha from `source` (the colours multiplied by it where `source` is premultiplied, and the
// Source's own colours where its alpha is nearly 0); output pixels outside `rect` become 0.
void writeFused(ClipImage& output, const OfxRectI& window, const float* samples, const OfxRectI& rect,
                const ClipImage& source);

// The un-fused frame: `source` copied into `output` within `window` (0 outside its bounds).
void copySource(ClipImage& output, const OfxRectI& window, const ClipImage& source);

}  // namespace movingcolor
