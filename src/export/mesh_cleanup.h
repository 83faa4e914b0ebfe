// Removes the small disconnected pieces ("floaters") that stray Gaussians leave in a density
// mesh, keeping every component with at least `min_fraction` of the largest one's faces.
#pragma once
#include "export/mesh.h"

namespace dreamdpo::exporters {

struct CleanupReport {
  int64_t components = 0;  // before
  int64_t removed = 0;     // components dropped
};

Mesh keep_large_components(const Mesh& mesh, double min_fraction, CleanupReport* report = nullptr);

}  // namespace dreamdpo::exporters
