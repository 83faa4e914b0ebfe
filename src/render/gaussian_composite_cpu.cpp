// CPU compositing kernel. Work is split over (view, tile) pairs with at::parallel_for; every
// pair writes only its own pixels and its own slice of per-list-entry gradient buffers, which
// are then summed per Gaussian in a fixed order, so results do not depend on thread count.
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <numeric>
#include <vector>

#include "core/error.h"
#include "render/gaussian_composite.h"

namespace dreamdpo::render {

namespace {

struct Grid {
  int64_t views, count, width, height, tiles_x, tiles_y;
  int64_t tiles() const { return tiles_x * tiles_y; }
};

Grid make_grid(const at::Tensor& means2d, int64_t width, int64_t height) {
  return {means2d.size(0), means2d.size(1), width, height, (width + kTileSize - 1) / kTileSize,
          (height + kTileSize - 1) / kTileSize};
}

// Inclusive pixel range [lo, hi] whose centres (index + 0.5) lie within centre +- extent.
inline bool pixel_range(double centre, double extent, int64_t size, int64_t& lo, int64_t& hi) {
  const double first = std::ceil(centre - extent - 0.5), last = std::floor(centre + extent - 0.5);
  if (!(first <= last) || last < 0 || first > static_cast<double>(size - 1)) return false;
  lo = static_cast<int64_t>(std::max(first, 0.0));
  hi = static_cast<int64_t>(std::min(last, static_cast<double>(size - 1)));
  return lo <= hi;
}

// Half extents of the bounding box of d^T Q d <= 9: 3 sqrt(Sigma_xx), 3 sqrt(Sigma_yy) with
// Sigma = Q^-1, padded a little so rounding never drops a pixel the Mahalanobis test keeps.
inline bool ellipse_extents(double a, double b, double c, double& ex, double& ey) {
  const double det = a * c - b * b;
  if (!(det > 0) || !std::isfinite(det)) return false;
  ex = std::sqrt(kCutoffMahalanobis2 * c / det) * (1 + 1e-6) + 1e-6;
  ey = std::sqrt(kCutoffMahalanobis2 * a / det) * (1 + 1e-6) + 1e-6;
  return std::isfinite(ex) && std::isfinite(ey);
}

// Tile rectangle covered by the 3-sigma ellipse of Gaussian g of view b; false if none.
template <typename scalar_t>
bool tile_rect(const scalar_t* means2d, const scalar_t* conics, const scalar_t* opacities,
               const bool* visible, int64_t index, const Grid& grid, int64_t rect[4]) {
  if (!visible[index] || !(opacities[index] >= kMinAlpha)) return false;
  double extent_x, extent_y;
  if (!ellipse_extents(conics[3 * index], conics[3 * index + 1], conics[3 * index + 2], extent_x, extent_y)) {
    return false;
  }
  int64_t x0, x1, y0, y1;
  if (!pixel_range(means2d[2 * index], extent_x, grid.width, x0, x1)) return false;
  if (!pixel_range(means2d[2 * index + 1], extent_y, grid.height, y0, y1)) return false;
  rect[0] = x0 / kTileSize, rect[1] = x1 / kTileSize, rect[2] = y0 / kTileSize, rect[3] = y1 / kTileSize;
  return true;
}

// Builds per-(view, tile) lists of Gaussian ids sorted front to back (ties by id).
template <typename scalar_t>
void bin_and_sort(const at::Tensor& means2d, const at::Tensor& conics, const at::Tensor& opacities,
                  const at::Tensor& depths, const at::Tensor& visible, const Grid& grid,
                  at::Tensor& offsets_out, at::Tensor& ids_out) {
  const scalar_t* m = means2d.data_ptr<scalar_t>();
  const scalar_t* q = conics.data_ptr<scalar_t>();
  const scalar_t* o = opacities.data_ptr<scalar_t>();
  const scalar_t* z = depths.data_ptr<scalar_t>();
  const bool* vis = visible.data_ptr<bool>();
  const int64_t n = grid.count, t = grid.tiles();
  std::vector<int64_t> counts(grid.views * t + 1, 0);
  auto for_each_tile = [&](int64_t view, auto&& visit) {
    for (int64_t g = 0; g < n; ++g) {
      const int64_t index = view * n + g;
      int64_t rect[4];
      if (!tile_rect(m, q, o, vis, index, grid, rect)) continue;
      for (int64_t ty = rect[2]; ty <= rect[3]; ++ty)
        for (int64_t tx = rect[0]; tx <= rect[1]; ++tx) visit(view * t + ty * grid.tiles_x + tx, g);
    }
  };
  at::parallel_for(0, grid.views, 1, [&](int64_t begin, int64_t end) {
    for (int64_t view = begin; view < end; ++view)
      for_each_tile(view, [&](int64_t tile, int64_t) { ++counts[tile + 1]; });
  });
  std::partial_sum(counts.begin(), counts.end(), counts.begin());
  offsets_out = at::tensor(counts, at::kLong);
  ids_out = at::empty({counts.back()}, at::kInt);
  int32_t* ids = ids_out.data_ptr<int32_t>();
  at::parallel_for(0, grid.views, 1, [&](int64_t begin, int64_t end) {
    for (int64_t view = begin; view < end; ++view) {
      std::vector<int64_t> cursor(counts.begin() + view * t, counts.begin() + (view + 1) * t);
      for_each_tile(view, [&](int64_t tile, int64_t g) {
        ids[cursor[tile - view * t]++] = static_cast<int32_t>(g);
      });
    }
  });
  at::parallel_for(0, grid.views * t, 1, [&](int64_t begin, int64_t end) {
    for (int64_t tile = begin; tile < end; ++tile) {
      const scalar_t* view_depths = z + (tile / t) * n;
      std::stable_sort(ids + counts[tile], ids + counts[tile + 1],
                       [view_depths](int32_t l, int32_t r) { return view_depths[l] < view_depths[r]; });
    }
  });
}

// One Gaussian of a tile list, gathered contiguously for the pixel loops.
template <typename scalar_t>
struct Splat {
  scalar_t mx, my, a, b, c, opacity, depth, colour[3];
  double extent_x, extent_y;
};

template <typename scalar_t>
void gather_splats(int64_t view, const int32_t* ids, int64_t count, const Grid& grid, const scalar_t* m,
                   const scalar_t* q, const scalar_t* o, const scalar_t* col, const scalar_t* z,
                   std::vector<Splat<scalar_t>>& out) {
  out.resize(count);
  for (int64_t k = 0; k < count; ++k) {
    const int64_t i = view * grid.count + ids[k];
    out[k] = {m[2 * i], m[2 * i + 1], q[3 * i], q[3 * i + 1], q[3 * i + 2], o[i], z[i],
              {col[3 * i], col[3 * i + 1], col[3 * i + 2]}, 0.0, 0.0};
    ellipse_extents(out[k].a, out[k].b, out[k].c, out[k].extent_x, out[k].extent_y);
  }
}

// One included contribution of a pixel, recorded for the backward pass.
template <typename scalar_t>
struct Contribution {
  int64_t k;
  scalar_t alpha, transmittance, falloff;
  bool clamped;
};

// Front-to-back compositing of the pixels of one tile, in splat order: each Gaussian visits
// only the pixels of its 3-sigma box, so every pixel still sees its Gaussians front to back.
// Calls record(pixel, k, alpha, T_before, falloff, clamped) for every included Gaussian of a
// pixel (pixel = local row-major index in the tile) and leaves the final transmittance of
// every pixel in `transmittance`.
template <typename scalar_t, class Record>
void composite_tile(const std::vector<Splat<scalar_t>>& splats, int64_t x0, int64_t y0, int64_t tile_w,
                    int64_t tile_h, std::vector<scalar_t>& transmittance, Record&& record) {
  const int64_t pixels = tile_w * tile_h;
  transmittance.assign(pixels, 1);
  std::vector<char> done(pixels, 0);
  int64_t remaining = pixels;
  for (int64_t k = 0; k < static_cast<int64_t>(splats.size()) && remaining > 0; ++k) {
    const auto& s = splats[k];
    int64_t lx, hx, ly, hy;
    if (!pixel_range(s.mx - x0, s.extent_x, tile_w, lx, hx)) continue;
    if (!pixel_range(s.my - y0, s.extent_y, tile_h, ly, hy)) continue;
    for (int64_t y = ly; y <= hy; ++y) {
      const scalar_t dy = (y0 + y) + static_cast<scalar_t>(0.5) - s.my;
      for (int64_t x = lx; x <= hx; ++x) {
        const int64_t p = y * tile_w + x;
        if (done[p]) continue;
        const scalar_t dx = (x0 + x) + static_cast<scalar_t>(0.5) - s.mx;
        const scalar_t maha = s.a * dx * dx + 2 * s.b * dx * dy + s.c * dy * dy;
        if (maha > static_cast<scalar_t>(kCutoffMahalanobis2)) continue;
        const scalar_t falloff = std::exp(static_cast<scalar_t>(-0.5) * maha);
        const scalar_t raw = s.opacity * falloff;
        const bool clamped = raw > static_cast<scalar_t>(kMaxAlpha);
        const scalar_t alpha = clamped ? static_cast<scalar_t>(kMaxAlpha) : raw;
        if (alpha < static_cast<scalar_t>(kMinAlpha)) continue;
        const scalar_t next = transmittance[p] * (1 - alpha);
        if (next < static_cast<scalar_t>(kMinTransmittance)) {
          done[p] = 1;  // this Gaussian and all behind it are dropped for the pixel
          --remaining;
          continue;
        }
        record(p, k, alpha, transmittance[p], falloff, clamped);
        transmittance[p] = next;
      }
    }
  }
}

void check_inputs(const at::Tensor& means2d, const at::Tensor& conics, const at::Tensor& opacities,
                  const at::Tensor& colours, const at::Tensor& depths, const at::Tensor& background) {
  const auto dtype = means2d.scalar_type();
  check(dtype == at::kFloat || dtype == at::kDouble, "rasterizer: float32 or float64 tensors expected");
  for (const auto* t : {&means2d, &conics, &opacities, &colours, &depths, &background}) {
    check(t->scalar_type() == dtype && t->is_contiguous() && t->device().is_cpu(),
          "rasterizer (CPU kernel): inputs must be contiguous CPU tensors of one dtype");
  }
}

}  // namespace

CompositeForward composite_forward_cpu(const at::Tensor& means2d, const at::Tensor& conics,
                                       const at::Tensor& opacities, const at::Tensor& colours,
                                       const at::Tensor& depths, const at::Tensor& visible,
                                       const at::Tensor& background, int64_t width, int64_t height) {
  check_inputs(means2d, conics, opacities, colours, depths, background);
  check(visible.scalar_type() == at::kBool && visible.is_contiguous(), "rasterizer: visible must be bool");
  const Grid grid = make_grid(means2d, width, height);
  CompositeForward out;
  const auto options = means2d.options();
  out.rgb = at::empty({grid.views, 3, height, width}, options);
  out.alpha = at::empty({grid.views, 1, height, width}, options);
  out.depth = at::empty({grid.views, 1, height, width}, options);
  AT_DISPATCH_FLOATING_TYPES(means2d.scalar_type(), "composite_forward_cpu", [&] {
    bin_and_sort<scalar_t>(means2d, conics, opacities, depths, visible, grid, out.tile_offsets, out.tile_ids);
    const int64_t* offsets = out.tile_offsets.data_ptr<int64_t>();
    const int32_t* ids = out.tile_ids.data_ptr<int32_t>();
    const scalar_t* bg = background.data_ptr<scalar_t>();
    scalar_t* rgb = out.rgb.data_ptr<scalar_t>();
    scalar_t* alpha_out = out.alpha.data_ptr<scalar_t>();
    scalar_t* depth_out = out.depth.data_ptr<scalar_t>();
    const int64_t plane = height * width;
    at::parallel_for(0, grid.views * grid.tiles(), 1, [&](int64_t begin, int64_t end) {
      std::vector<Splat<scalar_t>> splats;
      std::vector<scalar_t> colour, depth, transmittance;
      for (int64_t tile = begin; tile < end; ++tile) {
        const int64_t view = tile / grid.tiles(), local = tile % grid.tiles();
        gather_splats(view, ids + offsets[tile], offsets[tile + 1] - offsets[tile], grid,
                      means2d.data_ptr<scalar_t>(), conics.data_ptr<scalar_t>(), opacities.data_ptr<scalar_t>(),
                      colours.data_ptr<scalar_t>(), depths.data_ptr<scalar_t>(), splats);
        const int64_t x0 = (local % grid.tiles_x) * kTileSize, y0 = (local / grid.tiles_x) * kTileSize;
        const int64_t tile_w = std::min(kTileSize, width - x0), tile_h = std::min(kTileSize, height - y0);
        colour.assign(3 * tile_w * tile_h, 0);
        depth.assign(tile_w * tile_h, 0);
        composite_tile<scalar_t>(splats, x0, y0, tile_w, tile_h, transmittance,
                                 [&](int64_t p, int64_t k, scalar_t alpha, scalar_t t, scalar_t, bool) {
                                   const scalar_t w = alpha * t;
                                   for (int ch = 0; ch < 3; ++ch) colour[3 * p + ch] += w * splats[k].colour[ch];
                                   depth[p] += w * splats[k].depth;
                                 });
        for (int64_t y = 0; y < tile_h; ++y) {
          for (int64_t x = 0; x < tile_w; ++x) {
            const int64_t p = y * tile_w + x, pixel = (y0 + y) * width + x0 + x;
            for (int ch = 0; ch < 3; ++ch) {
              rgb[(view * 3 + ch) * plane + pixel] = colour[3 * p + ch] + transmittance[p] * bg[ch];
            }
            alpha_out[view * plane + pixel] = 1 - transmittance[p];
            depth_out[view * plane + pixel] = depth[p];
          }
        }
      }
    });
  });
  return out;
}

CompositeGrads composite_backward_cpu(const at::Tensor& means2d, const at::Tensor& conics,
                                      const at::Tensor& opacities, const at::Tensor& colours,
                                      const at::Tensor& depths, const at::Tensor& background,
                                      const at::Tensor& tile_offsets, const at::Tensor& tile_ids,
                                      const at::Tensor& grad_rgb, const at::Tensor& grad_alpha,
                                      const at::Tensor& grad_depth, int64_t width, int64_t height) {
  check_inputs(means2d, conics, opacities, colours, depths, background);
  const Grid grid = make_grid(means2d, width, height);
  const auto options = means2d.options();
  CompositeGrads grads;
  grads.means2d = at::zeros_like(means2d);
  grads.conics = at::zeros_like(conics);
  grads.opacities = at::zeros_like(opacities);
  grads.colours = at::zeros_like(colours);
  grads.depths = at::zeros_like(depths);
  // Per list entry: mx, my, a, b, c, opacity, r, g, b, depth (double accumulators).
  constexpr int kSlots = 10;
  std::vector<double> entry_grads(static_cast<size_t>(tile_ids.numel()) * kSlots, 0.0);
  const auto g_rgb = grad_rgb.to(options).contiguous();
  const auto g_alpha = grad_alpha.to(options).contiguous();
  const auto g_depth = grad_depth.to(options).contiguous();
  const int64_t* offsets = tile_offsets.data_ptr<int64_t>();
  const int32_t* ids = tile_ids.data_ptr<int32_t>();
  AT_DISPATCH_FLOATING_TYPES(means2d.scalar_type(), "composite_backward_cpu", [&] {
    const scalar_t* bg = background.data_ptr<scalar_t>();
    const scalar_t* gc = g_rgb.data_ptr<scalar_t>();
    const scalar_t* ga = g_alpha.data_ptr<scalar_t>();
    const scalar_t* gd = g_depth.data_ptr<scalar_t>();
    const int64_t plane = height * width;
    at::parallel_for(0, grid.views * grid.tiles(), 1, [&](int64_t begin, int64_t end) {
      std::vector<Splat<scalar_t>> splats;
      std::vector<std::vector<Contribution<scalar_t>>> contributions(kTileSize * kTileSize);
      std::vector<scalar_t> transmittance;
      for (int64_t tile = begin; tile < end; ++tile) {
        const int64_t view = tile / grid.tiles(), local = tile % grid.tiles();
        gather_splats(view, ids + offsets[tile], offsets[tile + 1] - offsets[tile], grid,
                      means2d.data_ptr<scalar_t>(), conics.data_ptr<scalar_t>(), opacities.data_ptr<scalar_t>(),
                      colours.data_ptr<scalar_t>(), depths.data_ptr<scalar_t>(), splats);
        double* acc = entry_grads.data() + offsets[tile] * kSlots;
        const int64_t x0 = (local % grid.tiles_x) * kTileSize, y0 = (local / grid.tiles_x) * kTileSize;
        const int64_t tile_w = std::min(kTileSize, width - x0), tile_h = std::min(kTileSize, height - y0);
        for (auto& c : contributions) c.clear();
        composite_tile<scalar_t>(splats, x0, y0, tile_w, tile_h, transmittance,
                                 [&](int64_t p, int64_t k, scalar_t alpha, scalar_t t, scalar_t falloff, bool clamped) {
                                   contributions[p].push_back({k, alpha, t, falloff, clamped});
                                 });
        for (int64_t y = y0; y < y0 + tile_h; ++y) {
          for (int64_t x = x0; x < x0 + tile_w; ++x) {
            const scalar_t px = x + static_cast<scalar_t>(0.5), py = y + static_cast<scalar_t>(0.5);
            const auto& pixel_contributions = contributions[(y - y0) * tile_w + (x - x0)];
            const int64_t pixel = y * width + x;
            const scalar_t g_col[3] = {gc[(view * 3) * plane + pixel], gc[(view * 3 + 1) * plane + pixel],
                                       gc[(view * 3 + 2) * plane + pixel]};
            const scalar_t g_a = ga[view * plane + pixel], g_d = gd[view * plane + pixel];
            // S: the loss-weighted colour of everything behind the current Gaussian, as seen
            // through it (background for rgb, 0 for alpha and depth).
            scalar_t behind = g_col[0] * bg[0] + g_col[1] * bg[1] + g_col[2] * bg[2];
            for (auto it = pixel_contributions.rbegin(); it != pixel_contributions.rend(); ++it) {
              const auto& s = splats[it->k];
              double* e = acc + it->k * kSlots;
              const scalar_t w = it->alpha * it->transmittance;
              for (int ch = 0; ch < 3; ++ch) e[6 + ch] += g_col[ch] * w;
              e[9] += g_d * w;
              const scalar_t own = g_col[0] * s.colour[0] + g_col[1] * s.colour[1] + g_col[2] * s.colour[2] +
                                   g_a + g_d * s.depth;
              const scalar_t d_alpha = it->transmittance * (own - behind);
              behind = it->alpha * own + (1 - it->alpha) * behind;
              if (it->clamped) continue;
              e[5] += d_alpha * it->falloff;
              const scalar_t d_power = d_alpha * it->alpha;  // power = -0.5 d^T Q d
              const scalar_t dx = px - s.mx, dy = py - s.my;
              e[0] += d_power * (s.a * dx + s.b * dy);
              e[1] += d_power * (s.b * dx + s.c * dy);
              e[2] += -0.5 * d_power * dx * dx;
              e[3] += -d_power * dx * dy;
              e[4] += -0.5 * d_power * dy * dy;
            }
          }
        }
      }
    });
    // Sum list entries per Gaussian, tiles in order: views are independent, so parallel over them.
    scalar_t* gm = grads.means2d.data_ptr<scalar_t>();
    scalar_t* gq = grads.conics.data_ptr<scalar_t>();
    scalar_t* go = grads.opacities.data_ptr<scalar_t>();
    scalar_t* gcol = grads.colours.data_ptr<scalar_t>();
    scalar_t* gz = grads.depths.data_ptr<scalar_t>();
    at::parallel_for(0, grid.views, 1, [&](int64_t begin, int64_t end) {
      for (int64_t view = begin; view < end; ++view) {
        std::vector<double> sums(static_cast<size_t>(grid.count) * kSlots, 0.0);
        for (int64_t entry = offsets[view * grid.tiles()]; entry < offsets[(view + 1) * grid.tiles()]; ++entry) {
          double* s = sums.data() + static_cast<int64_t>(ids[entry]) * kSlots;
          const double* e = entry_grads.data() + entry * kSlots;
          for (int slot = 0; slot < kSlots; ++slot) s[slot] += e[slot];
        }
        for (int64_t g = 0; g < grid.count; ++g) {
          const double* s = sums.data() + g * kSlots;
          const int64_t i = view * grid.count + g;
          gm[2 * i] = s[0], gm[2 * i + 1] = s[1];
          gq[3 * i] = s[2], gq[3 * i + 1] = s[3], gq[3 * i + 2] = s[4];
          go[i] = s[5];
          gcol[3 * i] = s[6], gcol[3 * i + 1] = s[7], gcol[3 * i + 2] = s[8];
          gz[i] = s[9];
        }
      }
    });
  });
  return grads;
}

}  // namespace dreamdpo::render
