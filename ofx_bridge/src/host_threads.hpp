// Work split over the host's threads (the multi-thread suite), or run here where it has none.
#pragma once

#include <functional>

namespace movingcolor {

// Runs `slice(first, last)` over [0, count) in contiguous slices on the host's threads when it
// offers them and there are at least `minimum` items; else in one call on this thread. An exception
// thrown by a slice is rethrown here.
void inSlices(int count, int minimum, const std::function<void(int, int)>& slice);

}  // namespace movingcolor
