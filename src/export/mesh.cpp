#include "export/mesh.h"

#include "core/error.h"

namespace dreamdpo::exporters {

Mesh checked_for_export(const Mesh& mesh, const std::string& context) {
  check(mesh.face_count() > 0, context,
        ": the mesh is empty (no surface at this iso level; try a lower level or check that the "
        "density grid covers the object)");
  const int64_t v = mesh.vertex_count();
  auto per_vertex = [&](const at::Tensor& t, const char* name) {
    check(t.defined() && t.dim() == 2 && t.size(0) == v && t.size(1) == 3 && at::isFloatingType(t.scalar_type()),
          context, ": mesh ", name, " must be a float [", v, ",3] tensor, got ",
          t.defined() ? t.sizes() : at::IntArrayRef{});
    auto out = t.detach().to(at::kCPU, at::kFloat).contiguous();
    check(at::isfinite(out).all().item<bool>(), context, ": mesh ", name, " hold NaN or infinite values");
    return out;
  };
  Mesh out;
  out.vertices = per_vertex(mesh.vertices, "vertices");
  out.normals = per_vertex(mesh.normals, "normals");
  out.colours = per_vertex(mesh.colours, "colours").clamp(0.0, 1.0);
  check(mesh.faces.dim() == 2 && mesh.faces.size(1) == 3 && !at::isFloatingType(mesh.faces.scalar_type()),
        context, ": mesh faces must be an integer [F,3] tensor, got ", mesh.faces.sizes());
  out.faces = mesh.faces.to(at::kCPU, at::kInt).contiguous();
  const auto lo = out.faces.min().item<int64_t>(), hi = out.faces.max().item<int64_t>();
  check(lo >= 0 && hi < v, context, ": mesh faces index vertices ", lo, "..", hi, " but there are ", v,
        " vertices");
  return out;
}

}  // namespace dreamdpo::exporters
