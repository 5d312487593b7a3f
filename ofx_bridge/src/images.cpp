#include "images.hpp"

#include <algorithm>
#include <cstring>

#include "host_suites.hpp"
#include "host_threads.hpp"
#include "ofx/names.h"

namespace movingcolor {

namespace {
// Fewer rows than this are copied on one thread: starting threads would cost more.
constexpr int kRowsPerThread = 32;
// A premultiplied colour is divided by its alpha (and the fused one multiplied back) only above this:
// under it the colour says nothing of the surface (a denormal alpha would overflow to infinity).
constexpr float kUnpremultiplyAbove = 1e-6f;
}  // namespace

ClipImage::ClipImage(OfxImageClipHandle clip, OfxTime time) {
  if (clip == nullptr || suites.effects->clipGetImage(clip, time, nullptr, &handle_) != kOfxStatOK) {
    handle_ = nullptr;
    return;
  }
  data_ = static_cast<char*>(propPointer(handle_, kOfxImagePropData));
  for (int i = 0; i < 4; ++i) (&bounds_.x1)[i] = propInt(handle_, kOfxImagePropBounds, i);
  rowBytes_ = propInt(handle_, kOfxImagePropRowBytes);
  const std::string components = propString(handle_, kOfxImageEffectPropComponents);
  components_ = components == kOfxImageComponentRGBA ? 4 : components == kOfxImageComponentAlpha ? 1 : 0;
  premultiplied_ =
      components_ == 4 && propString(handle_, kOfxImageEffectPropPreMultiplication) == kOfxImagePreMultiplied;
  depth_ = propString(handle_, kOfxImageEffectPropPixelDepth);
}

ClipImage::~ClipImage() {
  if (handle_ != nullptr) suites.effects->clipReleaseImage(handle_);
}

std::string ClipImage::problem(const char* clipName, bool alphaTaken) const {
  const std::string clip = clipName;
  if (!valid()) return "the host gave no " + clip + " image for this frame";
  if (depth_ != kOfxBitDepthFloat) return clip + " is " + depth_ + ": MovingColor takes 32-bit float images";
  if (components_ == 0 || (components_ == 1 && !alphaTaken))
    return clip + " is not RGBA: MovingColor takes RGBA images (and Alpha mattes)";
  return "";
}

const float* ClipImage::pixel(int x, int y) const {
  if (x < bounds_.x1 || x >= bounds_.x2 || y < bounds_.y1 || y >= bounds_.y2) return nullptr;
  // Row bytes may be negative (rows running down through memory): keep the arithmetic signed.
  const char* row = data_ + static_cast<long>(y - bounds_.y1) * rowBytes_;
  return reinterpret_cast<const float*>(row) + static_cast<long>(x - bounds_.x1) * components_;
}

float* ClipImage::pixel(int x, int y) {
  return const_cast<float*>(static_cast<const ClipImage*>(this)->pixel(x, y));
}

std::string planar(const ClipImage& image, const OfxRectI& rect, int first, int count) {
  const int width = rect.x2 - rect.x1, height = rect.y2 - rect.y1;
  const size_t plane = size_t(width) * size_t(height);
  std::string bytes(plane * size_t(count) * sizeof(float), '\0');
  float* out = reinterpret_cast<float*>(bytes.data());
  inSlices(height, kRowsPerThread, [&](int begin, int end) {
    for (int row = begin; row < end; ++row) {
      const int y = rect.y2 - 1 - row;  // the wire's top row is the highest y
      for (int column = 0; column < width; ++column) {
        const float* px = image.pixel(rect.x1 + column, y);
        if (px == nullptr) continue;
        // Where alpha is (nearly) 0 a premultiplied colour has nothing to divide (it is 0, or light
        // added over the background): kept as it is.
        const float alpha = image.premultiplied() ? px[3] : 0.0f;
        for (int c = 0; c < count; ++c) {
          const int channel = image.components() == 1 ? 0 : first + c;
          const bool colour = image.premultiplied() && channel < 3 && alpha > kUnpremultiplyAbove;
          out[size_t(c) * plane + size_t(row) * size_t(width) + size_t(column)] =
              colour ? px[channel] / alpha : px[channel];
        }
      }
    }
  });
  return bytes;
}

void writeFused(ClipImage& output, const OfxRectI& window, const float* samples, const OfxRectI& rect,
                const ClipImage& source) {
  const int width = rect.x2 - rect.x1, height = rect.y2 - rect.y1;
  const size_t plane = size_t(width) * size_t(height);
  inSlices(window.y2 - window.y1, kRowsPerThread, [&](int begin, int end) {
    for (int y = window.y1 + begin; y < window.y1 + end; ++y) {
      for (int x = window.x1; x < window.x2; ++x) {
        float* out = output.pixel(x, y);
        if (out == nullptr) continue;
        const bool inside = x >= rect.x1 && x < rect.x2 && y >= rect.y1 && y < rect.y2;
        if (!inside) {
          std::fill(out, out + output.components(), 0.0f);
          continue;
        }
        const size_t at = size_t(rect.y2 - 1 - y) * size_t(width) + size_t(x - rect.x1);
        const float* src = source.pixel(x, y);
        if (output.components() == 1) {
          out[0] = src ? src[source.components() - 1] : 0.0f;
          continue;
        }
        const float alpha = src ? src[source.components() - 1] : 0.0f;
        const bool premultiplied = source.premultiplied() && src != nullptr;
        const bool premultiply = premultiplied && alpha > kUnpremultiplyAbove;
        for (int c = 0; c < 3; ++c) {
          const float straight = samples[size_t(c) * plane + at];
          // Where a premultiplied Source's alpha is (nearly) 0 its colour is kept as it is (0, or light
          // added over the background), as Nuke's Unpremult, Grade, Premult keeps it: the server's graded
          // colour there (a CDL offset lifts a 0) would be a veil over whatever it is comped on.
          out[c] = premultiply ? straight * alpha : premultiplied ? src[c] : straight;
        }
        out[3] = alpha;
      }
    }
  });
}

void copySource(ClipImage& output, const OfxRectI& window, const ClipImage& source) {
  inSlices(window.y2 - window.y1, kRowsPerThread, [&](int begin, int end) {
    for (int y = window.y1 + begin; y < window.y1 + end; ++y) {
      for (int x = window.x1; x < window.x2; ++x) {
        float* out = output.pixel(x, y);
        if (out == nullptr) continue;
        const float* src = source.pixel(x, y);
        if (src == nullptr) {
          std::fill(out, out + output.components(), 0.0f);
        } else if (output.components() == source.components()) {
          std::memcpy(out, src, sizeof(float) * size_t(output.components()));
        } else {
          for (int c = 0; c < output.components(); ++c) out[c] = src[std::min(c, source.components() - 1)];
        }
      }
    }
  });
}

}  // namespace movingcolor
