// CUDA compositing kernel: the GPU twin of gaussian_composite_cpu.cpp, reproducing its
// results (same tile rectangles, same list order, same per-pixel inclusion tests).
//
// Forward: per-Gaussian tile counts -> exclusive prefix sum (entries are emitted in Gaussian
// id order) -> keys (view*T + tile, depth rank) -> one stable radix sort -> tile offsets ->
// one 256-thread block per (view, tile), splats staged through shared memory in batches.
//
// Backward, and why it is deterministic: no floating-point atomics anywhere. Each block owns
// its tile's list entries. For every splat, the block's 256 pixel gradients are summed by a
// fixed shuffle tree per warp, then the 8 warp partials in warp order, and the result is
// written (a plain store) to that entry's own row of a per-entry buffer. The entries of a
// Gaussian form a contiguous segment of that buffer (CSR: rows ordered by Gaussian, then by
// tile within its rectangle), which one thread per Gaussian sums in order. So every sum has a
// fixed order and the gradients are bit-identical from call to call on the same device.
#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_scan.cuh>

#include <cmath>

#include "core/error.h"
#include "render/gaussian_composite_constants.h"
#include "render/gaussian_composite_cuda_kernels.h"

namespace dreamdpo::render::cuda {

namespace {

constexpr int kThreads = kTileSize * kTileSize;  // one thread per pixel of a tile
constexpr int kWarps = kThreads / 32;
constexpr int kBackwardBatch = 32;  // splats per backward step (bounds the partials' shared memory)
constexpr int kSlots = 10;          // mx, my, a, b, c, opacity, r, g, b, depth

void check_cuda(cudaError_t status, const char* what) {
  if (status != cudaSuccess) fail("CUDA rasterizer: ", what, " failed: ", cudaGetErrorString(status));
}

__device__ inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

unsigned blocks_for(int64_t items, int threads) { return static_cast<unsigned>((items + threads - 1) / threads); }

// Arithmetic that must round exactly like the CPU kernel: explicit round-to-nearest
// operations so nvcc does not contract them into FMAs (a different rounding could move a
// pixel across the 3-sigma cutoff or a tile boundary).
__device__ inline float mul_rn(float a, float b) { return __fmul_rn(a, b); }
__device__ inline double mul_rn(double a, double b) { return __dmul_rn(a, b); }
__device__ inline float add_rn(float a, float b) { return __fadd_rn(a, b); }
__device__ inline double add_rn(double a, double b) { return __dadd_rn(a, b); }

// As pixel_range in gaussian_composite_cpu.cpp: inclusive pixel range whose centres lie
// within centre +- extent.
__device__ inline bool pixel_range(double centre, double extent, int64_t size, int& lo, int& hi) {
  const double first = ceil(centre - extent - 0.5), last = floor(centre + extent - 0.5);
  if (!(first <= last) || last < 0 || first > static_cast<double>(size - 1)) return false;
  lo = static_cast<int>(fmax(first, 0.0));
  hi = static_cast<int>(fmin(last, static_cast<double>(size - 1)));
  return lo <= hi;
}

// As ellipse_extents in gaussian_composite_cpu.cpp.
__device__ inline bool ellipse_extents(double a, double b, double c, double& ex, double& ey) {
  const double det = __dsub_rn(__dmul_rn(a, c), __dmul_rn(b, b));
  if (!(det > 0) || !isfinite(det)) return false;
  constexpr double pad = 1 + 1e-6;
  ex = __dadd_rn(__dmul_rn(sqrt(__ddiv_rn(__dmul_rn(kCutoffMahalanobis2, c), det)), pad), 1e-6);
  ey = __dadd_rn(__dmul_rn(sqrt(__ddiv_rn(__dmul_rn(kCutoffMahalanobis2, a), det)), pad), 1e-6);
  return isfinite(ex) && isfinite(ey);
}

struct TileGrid {
  int64_t views, count, width, height, tiles_x, tiles;
};

template <typename scalar_t>
TileGrid grid_of(const Splats<scalar_t>& s) {
  return {s.views, s.count, s.width, s.height, tiles_x(s.width), tiles_x(s.width) * tiles_y(s.height)};
}

// As tile_rect in gaussian_composite_cpu.cpp; the visibility test is skipped when
// s.visible is null (the backward, whose Gaussians are already in the lists).
template <typename scalar_t>
__device__ bool tile_rect(const Splats<scalar_t>& s, int64_t index, int rect[4]) {
  if ((s.visible && !s.visible[index]) || !(static_cast<double>(s.opacities[index]) >= kMinAlpha)) return false;
  double ex, ey;
  if (!ellipse_extents(s.conics[3 * index], s.conics[3 * index + 1], s.conics[3 * index + 2], ex, ey)) return false;
  int x0, x1, y0, y1;
  if (!pixel_range(s.means2d[2 * index], ex, s.width, x0, x1)) return false;
  if (!pixel_range(s.means2d[2 * index + 1], ey, s.height, y0, y1)) return false;
  rect[0] = x0 / kTileSize, rect[1] = x1 / kTileSize, rect[2] = y0 / kTileSize, rect[3] = y1 / kTileSize;
  return true;
}

template <typename scalar_t>
__global__ void count_kernel(Splats<scalar_t> s, int64_t* counts) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i >= s.views * s.count) return;
  int rect[4];
  counts[i] = tile_rect(s, i, rect) ? int64_t(rect[1] - rect[0] + 1) * (rect[3] - rect[2] + 1) : 0;
}

__global__ void iota_kernel(int32_t* out, int64_t n) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i < n) out[i] = static_cast<int32_t>(i);
}

__global__ void scatter_rank_kernel(const int32_t* order, int64_t n, int64_t* rank) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i < n) rank[order[i]] = i;
}

// Key of an entry: (view*T + tile) * (B*N) + depth rank. The rank comes from a stable sort of
// all depths by index, so equal depths keep Gaussian id order within a tile.
template <typename scalar_t>
__global__ void emit_kernel(Splats<scalar_t> s, TileGrid g, const int64_t* gaussian_offsets, const int64_t* rank,
                            uint64_t* keys, int32_t* values) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i >= g.views * g.count) return;
  int rect[4];
  if (gaussian_offsets[i + 1] == gaussian_offsets[i] || !tile_rect(s, i, rect)) return;
  const int64_t view = i / g.count, stride = g.views * g.count;
  int64_t out = gaussian_offsets[i];
  for (int ty = rect[2]; ty <= rect[3]; ++ty) {
    for (int tx = rect[0]; tx <= rect[1]; ++tx, ++out) {
      const uint64_t tile = view * g.tiles + ty * g.tiles_x + tx;
      keys[out] = tile * stride + rank[i];
      values[out] = static_cast<int32_t>(i % g.count);
    }
  }
}

__global__ void tile_offsets_kernel(const uint64_t* sorted_keys, int64_t total, int64_t stride, int64_t tiles,
                                    int64_t* tile_offsets) {
  const int64_t e = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (e >= total) return;
  const int64_t tile = static_cast<int64_t>(sorted_keys[e] / stride);
  const int64_t previous = e == 0 ? -1 : static_cast<int64_t>(sorted_keys[e - 1] / stride);
  for (int64_t t = previous + 1; t <= tile; ++t) tile_offsets[t] = e;  // list t starts here
  if (e == total - 1) {
    for (int64_t t = tile + 1; t <= tiles; ++t) tile_offsets[t] = total;
  }
}

// One splat of a tile list in shared memory, with its pixel box relative to the tile
// (empty box: lx > hx).
template <typename scalar_t>
struct TileSplat {
  scalar_t mx, my, a, b, c, opacity, depth, colour[3];
  int lx, hx, ly, hy;
};

template <typename scalar_t>
__device__ void load_splat(const Splats<scalar_t>& s, int64_t index, int64_t x0, int64_t y0, int tile_w, int tile_h,
                           TileSplat<scalar_t>& out) {
  out.mx = s.means2d[2 * index], out.my = s.means2d[2 * index + 1];
  out.a = s.conics[3 * index], out.b = s.conics[3 * index + 1], out.c = s.conics[3 * index + 2];
  out.opacity = s.opacities[index], out.depth = s.depths[index];
  for (int ch = 0; ch < 3; ++ch) out.colour[ch] = s.colours[3 * index + ch];
  double ex = 0, ey = 0;
  // The CPU kernel forms mean - tile origin in the working precision, then widens it.
  const bool ok = ellipse_extents(out.a, out.b, out.c, ex, ey) &&
                  pixel_range(static_cast<double>(out.mx - static_cast<scalar_t>(x0)), ex, tile_w, out.lx, out.hx) &&
                  pixel_range(static_cast<double>(out.my - static_cast<scalar_t>(y0)), ey, tile_h, out.ly, out.hy);
  if (!ok) out.lx = 1, out.hx = 0, out.ly = 1, out.hy = 0;
}

// The per-pixel tests of composite_tile in gaussian_composite_cpu.cpp (before the
// transmittance test): true if splat `sp` contributes to local pixel (x, y) with centre (px, py).
template <typename scalar_t>
__device__ inline bool splat_alpha(const TileSplat<scalar_t>& sp, int x, int y, scalar_t px, scalar_t py,
                                   scalar_t& alpha, scalar_t& falloff, bool& clamped) {
  if (x < sp.lx || x > sp.hx || y < sp.ly || y > sp.hy) return false;
  const scalar_t dx = px - sp.mx, dy = py - sp.my;
  // a dx dx + 2 b dx dy + c dy dy, evaluated in the CPU kernel's order.
  const scalar_t maha = add_rn(add_rn(mul_rn(mul_rn(sp.a, dx), dx), mul_rn(mul_rn(mul_rn(scalar_t(2), sp.b), dx), dy)),
                               mul_rn(mul_rn(sp.c, dy), dy));
  if (maha > static_cast<scalar_t>(kCutoffMahalanobis2)) return false;
  falloff = exp(mul_rn(static_cast<scalar_t>(-0.5), maha));
  const scalar_t raw = mul_rn(sp.opacity, falloff);
  clamped = raw > static_cast<scalar_t>(kMaxAlpha);
  alpha = clamped ? static_cast<scalar_t>(kMaxAlpha) : raw;
  return !(alpha < static_cast<scalar_t>(kMinAlpha));
}

struct TileCoords {
  int64_t view, x0, y0, tx, ty;
  int tile_w, tile_h, x, y;  // tile size (partial at the right/bottom edges) and this thread's pixel
  bool inside;
};

__device__ inline TileCoords tile_coords(const TileGrid& g) {
  TileCoords c;
  const int64_t local = blockIdx.x % g.tiles;
  c.view = blockIdx.x / g.tiles;
  c.tx = local % g.tiles_x, c.ty = local / g.tiles_x;
  c.x0 = c.tx * kTileSize, c.y0 = c.ty * kTileSize;
  c.tile_w = static_cast<int>(min64(kTileSize, g.width - c.x0));
  c.tile_h = static_cast<int>(min64(kTileSize, g.height - c.y0));
  c.x = threadIdx.x % kTileSize, c.y = threadIdx.x / kTileSize;
  c.inside = c.x < c.tile_w && c.y < c.tile_h;
  return c;
}

template <typename scalar_t>
__global__ void __launch_bounds__(kThreads)
    forward_kernel(Splats<scalar_t> s, TileGrid g, const int64_t* tile_offsets, const int32_t* tile_ids,
                   scalar_t* rgb, scalar_t* alpha_out, scalar_t* depth_out) {
  __shared__ TileSplat<scalar_t> batch[kThreads];
  const TileCoords tc = tile_coords(g);
  const int64_t begin = tile_offsets[blockIdx.x], end = tile_offsets[blockIdx.x + 1];
  const scalar_t px = static_cast<scalar_t>(tc.x0 + tc.x) + static_cast<scalar_t>(0.5);
  const scalar_t py = static_cast<scalar_t>(tc.y0 + tc.y) + static_cast<scalar_t>(0.5);
  scalar_t transmittance = 1, colour[3] = {0, 0, 0}, depth = 0;
  bool done = !tc.inside;
  for (int64_t start = begin; start < end; start += kThreads) {
    // Also the barrier before the batch is overwritten; stops once every pixel is opaque.
    if (__syncthreads_count(!done) == 0) break;
    if (start + threadIdx.x < end) {
      load_splat(s, tc.view * g.count + tile_ids[start + threadIdx.x], tc.x0, tc.y0, tc.tile_w, tc.tile_h,
                 batch[threadIdx.x]);
    }
    __syncthreads();
    const int n = static_cast<int>(min64(kThreads, end - start));
    for (int j = 0; j < n && !done; ++j) {
      const auto& sp = batch[j];
      scalar_t alpha, falloff;
      bool clamped;
      if (!splat_alpha(sp, tc.x, tc.y, px, py, alpha, falloff, clamped)) continue;
      const scalar_t next = transmittance * (1 - alpha);
      if (next < static_cast<scalar_t>(kMinTransmittance)) {
        done = true;  // this splat and all behind it are dropped for the pixel
        continue;
      }
      const scalar_t w = alpha * transmittance;
      for (int ch = 0; ch < 3; ++ch) colour[ch] += w * sp.colour[ch];
      depth += w * sp.depth;
      transmittance = next;
    }
  }
  if (!tc.inside) return;
  const int64_t plane = g.width * g.height, pixel = (tc.y0 + tc.y) * g.width + tc.x0 + tc.x;
  for (int ch = 0; ch < 3; ++ch) rgb[(tc.view * 3 + ch) * plane + pixel] = colour[ch] + transmittance * s.background[ch];
  alpha_out[tc.view * plane + pixel] = 1 - transmittance;
  depth_out[tc.view * plane + pixel] = depth;
}

// Per-Gaussian entry counts of the given lists (integer atomics: the counts, not their order, matter).
__global__ void list_count_kernel(const int64_t* tile_offsets, const int32_t* tile_ids, int64_t tiles, int64_t count,
                                  int64_t* counts) {
  const int64_t begin = tile_offsets[blockIdx.x], end = tile_offsets[blockIdx.x + 1];
  const int64_t view = blockIdx.x / tiles;
  for (int64_t e = begin + threadIdx.x; e < end; e += blockDim.x) {
    atomicAdd(reinterpret_cast<unsigned long long*>(&counts[view * count + tile_ids[e]]), 1ull);
  }
}

template <typename scalar_t>
__device__ inline scalar_t warp_sum(scalar_t v) {
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

template <typename scalar_t>
__global__ void __launch_bounds__(kThreads)
    backward_kernel(Splats<scalar_t> s, TileGrid g, const int64_t* tile_offsets, const int32_t* tile_ids,
                    const int64_t* gaussian_offsets, const scalar_t* grad_rgb, const scalar_t* grad_alpha,
                    const scalar_t* grad_depth, scalar_t* entry_grads) {
  __shared__ TileSplat<scalar_t> batch[kThreads];
  __shared__ scalar_t partials[kBackwardBatch][kWarps][kSlots];
  __shared__ int64_t rows[kBackwardBatch];
  __shared__ int longest;
  const TileCoords tc = tile_coords(g);
  const int64_t begin = tile_offsets[blockIdx.x], end = tile_offsets[blockIdx.x + 1];
  const scalar_t px = static_cast<scalar_t>(tc.x0 + tc.x) + static_cast<scalar_t>(0.5);
  const scalar_t py = static_cast<scalar_t>(tc.y0 + tc.y) + static_cast<scalar_t>(0.5);
  if (threadIdx.x == 0) longest = 0;

  // Pass 1, as the forward: final transmittance and the number of list entries up to and
  // including this pixel's last contribution.
  scalar_t transmittance = 1;
  int last = 0;
  bool done = !tc.inside;
  for (int64_t start = begin; start < end; start += kThreads) {
    if (__syncthreads_count(!done) == 0) break;
    if (start + threadIdx.x < end) {
      load_splat(s, tc.view * g.count + tile_ids[start + threadIdx.x], tc.x0, tc.y0, tc.tile_w, tc.tile_h,
                 batch[threadIdx.x]);
    }
    __syncthreads();
    const int n = static_cast<int>(min64(kThreads, end - start));
    for (int j = 0; j < n && !done; ++j) {
      scalar_t alpha, falloff;
      bool clamped;
      if (!splat_alpha(batch[j], tc.x, tc.y, px, py, alpha, falloff, clamped)) continue;
      const scalar_t next = transmittance * (1 - alpha);
      if (next < static_cast<scalar_t>(kMinTransmittance)) {
        done = true;
        continue;
      }
      transmittance = next;
      last = static_cast<int>(start - begin) + j + 1;
    }
  }
  __syncthreads();
  atomicMax(&longest, last);  // an integer max: order-independent
  __syncthreads();

  // Pass 2, back to front. `behind` is the loss-weighted colour of everything behind the
  // current splat as seen through it (background for rgb, 0 for alpha and depth).
  scalar_t g_col[3] = {0, 0, 0}, g_a = 0, g_d = 0, behind = 0;
  if (tc.inside) {
    const int64_t plane = g.width * g.height, pixel = (tc.y0 + tc.y) * g.width + tc.x0 + tc.x;
    for (int ch = 0; ch < 3; ++ch) g_col[ch] = grad_rgb[(tc.view * 3 + ch) * plane + pixel];
    g_a = grad_alpha[tc.view * plane + pixel], g_d = grad_depth[tc.view * plane + pixel];
    behind = g_col[0] * s.background[0] + g_col[1] * s.background[1] + g_col[2] * s.background[2];
  }
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  for (int stop = longest; stop > 0; stop -= kBackwardBatch) {
    const int first = max(0, stop - kBackwardBatch), n = stop - first;
    __syncthreads();  // the previous step is done with the batch and the partials
    if (static_cast<int>(threadIdx.x) < n) {
      const int64_t index = tc.view * g.count + tile_ids[begin + first + threadIdx.x];
      load_splat(s, index, tc.x0, tc.y0, tc.tile_w, tc.tile_h, batch[threadIdx.x]);
      // This entry's row: the Gaussian's segment, then the tile's place in its rectangle.
      int rect[4];
      tile_rect(s, index, rect);
      rows[threadIdx.x] = gaussian_offsets[index] + (tc.ty - rect[2]) * (rect[1] - rect[0] + 1) + (tc.tx - rect[0]);
    }
    __syncthreads();
    for (int j = n - 1; j >= 0; --j) {
      const auto& sp = batch[j];
      scalar_t e[kSlots] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
      scalar_t alpha, falloff;
      bool clamped;
      const bool contributes = first + j < last && splat_alpha(sp, tc.x, tc.y, px, py, alpha, falloff, clamped);
      if (contributes) {
        const scalar_t before = transmittance / (1 - alpha);  // transmittance in front of this splat
        const scalar_t w = alpha * before;
        for (int ch = 0; ch < 3; ++ch) e[6 + ch] = g_col[ch] * w;
        e[9] = g_d * w;
        const scalar_t own =
            g_col[0] * sp.colour[0] + g_col[1] * sp.colour[1] + g_col[2] * sp.colour[2] + g_a + g_d * sp.depth;
        const scalar_t d_alpha = before * (own - behind);
        behind = alpha * own + (1 - alpha) * behind;
        transmittance = before;
        if (!clamped) {
          e[5] = d_alpha * falloff;
          const scalar_t d_power = d_alpha * alpha;  // power = -0.5 d^T Q d
          const scalar_t dx = px - sp.mx, dy = py - sp.my;
          e[0] = d_power * (sp.a * dx + sp.b * dy);
          e[1] = d_power * (sp.b * dx + sp.c * dy);
          e[2] = static_cast<scalar_t>(-0.5) * d_power * dx * dx;
          e[3] = -d_power * dx * dy;
          e[4] = static_cast<scalar_t>(-0.5) * d_power * dy * dy;
        }
      }
      if (__any_sync(0xffffffffu, contributes)) {
#pragma unroll
        for (int slot = 0; slot < kSlots; ++slot) e[slot] = warp_sum(e[slot]);
      }
      if (lane == 0) {
#pragma unroll
        for (int slot = 0; slot < kSlots; ++slot) partials[j][warp][slot] = e[slot];
      }
    }
    __syncthreads();
    if (static_cast<int>(threadIdx.x) < n) {
      scalar_t* row = entry_grads + rows[threadIdx.x] * kSlots;
      for (int slot = 0; slot < kSlots; ++slot) {
        scalar_t sum = 0;
        for (int w = 0; w < kWarps; ++w) sum += partials[threadIdx.x][w][slot];
        row[slot] = sum;
      }
    }
  }
}

// Sums each Gaussian's rows in order (tile order, as the CPU kernel) into the gradients.
template <typename scalar_t>
__global__ void gather_grads_kernel(int64_t items, const int64_t* gaussian_offsets, const scalar_t* entry_grads,
                                    SplatGrads<scalar_t> out) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i >= items) return;
  double sum[kSlots] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  for (int64_t row = gaussian_offsets[i]; row < gaussian_offsets[i + 1]; ++row) {
    for (int slot = 0; slot < kSlots; ++slot) sum[slot] += entry_grads[row * kSlots + slot];
  }
  out.means2d[2 * i] = sum[0], out.means2d[2 * i + 1] = sum[1];
  out.conics[3 * i] = sum[2], out.conics[3 * i + 1] = sum[3], out.conics[3 * i + 2] = sum[4];
  out.opacities[i] = sum[5];
  out.colours[3 * i] = sum[6], out.colours[3 * i + 1] = sum[7], out.colours[3 * i + 2] = sum[8];
  out.depths[i] = sum[9];
}

// Exclusive prefix sum of counts[0..n) into offsets[0..n] (offsets[n] = total).
void exclusive_sum(int64_t* counts, int64_t n, int64_t* offsets, const Allocate& allocate, cudaStream_t stream) {
  // counts has room for n+1 values; the extra zero makes offsets[n] the total.
  check_cuda(cudaMemsetAsync(counts + n, 0, sizeof(int64_t), stream), "memset");
  size_t bytes = 0;
  check_cuda(cub::DeviceScan::ExclusiveSum(nullptr, bytes, counts, offsets, n + 1, stream), "scan (size)");
  check_cuda(cub::DeviceScan::ExclusiveSum(allocate(bytes), bytes, counts, offsets, n + 1, stream), "scan");
}

int bits_for(uint64_t max_value) {
  int bits = 1;
  while (bits < 64 && (max_value >> bits) != 0) ++bits;
  return bits;
}

constexpr int kLinearThreads = 256;

}  // namespace

template <typename scalar_t>
int64_t count_tile_entries(const Splats<scalar_t>& s, int64_t* gaussian_offsets, const Allocate& allocate,
                           cudaStream_t stream) {
  const int64_t items = s.views * s.count;
  auto* counts = static_cast<int64_t*>(allocate((items + 1) * sizeof(int64_t)));
  if (items > 0) {
    count_kernel<<<blocks_for(items, kLinearThreads), kLinearThreads, 0, stream>>>(s, counts);
    check_cuda(cudaGetLastError(), "count_kernel");
  }
  exclusive_sum(counts, items, gaussian_offsets, allocate, stream);
  int64_t total = 0;
  check_cuda(cudaMemcpyAsync(&total, gaussian_offsets + items, sizeof(int64_t), cudaMemcpyDeviceToHost, stream),
             "copy of the entry count");
  check_cuda(cudaStreamSynchronize(stream), "synchronise");
  return total;
}

template <typename scalar_t>
void build_tile_lists(const Splats<scalar_t>& s, const int64_t* gaussian_offsets, int64_t total, int64_t* tile_offsets,
                      int32_t* tile_ids, const Allocate& allocate, cudaStream_t stream) {
  const TileGrid g = grid_of(s);
  const int64_t items = g.views * g.count, lists = g.views * g.tiles;
  if (total == 0) {
    check_cuda(cudaMemsetAsync(tile_offsets, 0, (lists + 1) * sizeof(int64_t), stream), "memset");
    return;
  }
  // Depth ranks over all views at once: a stable sort of depths keyed by index.
  auto* index = static_cast<int32_t*>(allocate(items * sizeof(int32_t)));
  auto* order = static_cast<int32_t*>(allocate(items * sizeof(int32_t)));
  auto* sorted_depths = static_cast<scalar_t*>(allocate(items * sizeof(scalar_t)));
  auto* rank = static_cast<int64_t*>(allocate(items * sizeof(int64_t)));
  iota_kernel<<<blocks_for(items, kLinearThreads), kLinearThreads, 0, stream>>>(index, items);
  check_cuda(cudaGetLastError(), "iota_kernel");
  size_t bytes = 0;
  check_cuda(cub::DeviceRadixSort::SortPairs(nullptr, bytes, s.depths, sorted_depths, index, order, items, 0,
                                             int(sizeof(scalar_t) * 8), stream),
             "depth sort (size)");
  check_cuda(cub::DeviceRadixSort::SortPairs(allocate(bytes), bytes, s.depths, sorted_depths, index, order, items, 0,
                                             int(sizeof(scalar_t) * 8), stream),
             "depth sort");
  scatter_rank_kernel<<<blocks_for(items, kLinearThreads), kLinearThreads, 0, stream>>>(order, items, rank);
  check_cuda(cudaGetLastError(), "scatter_rank_kernel");

  auto* keys = static_cast<uint64_t*>(allocate(total * sizeof(uint64_t)));
  auto* sorted_keys = static_cast<uint64_t*>(allocate(total * sizeof(uint64_t)));
  auto* values = static_cast<int32_t*>(allocate(total * sizeof(int32_t)));
  emit_kernel<<<blocks_for(items, kLinearThreads), kLinearThreads, 0, stream>>>(s, g, gaussian_offsets, rank, keys,
                                                                                values);
  check_cuda(cudaGetLastError(), "emit_kernel");
  // Radix sort is stable; keys are unique anyway. Sort only the bits the keys use.
  const int end_bit = bits_for(static_cast<uint64_t>(lists) * static_cast<uint64_t>(items) - 1);
  check_cuda(cub::DeviceRadixSort::SortPairs(nullptr, bytes, keys, sorted_keys, values, tile_ids, total, 0, end_bit,
                                             stream),
             "tile sort (size)");
  check_cuda(cub::DeviceRadixSort::SortPairs(allocate(bytes), bytes, keys, sorted_keys, values, tile_ids, total, 0,
                                             end_bit, stream),
             "tile sort");
  tile_offsets_kernel<<<blocks_for(total, kLinearThreads), kLinearThreads, 0, stream>>>(sorted_keys, total, items,
                                                                                       lists, tile_offsets);
  check_cuda(cudaGetLastError(), "tile_offsets_kernel");
}

template <typename scalar_t>
void composite_forward(const Splats<scalar_t>& s, const int64_t* tile_offsets, const int32_t* tile_ids, scalar_t* rgb,
                       scalar_t* alpha, scalar_t* depth, cudaStream_t stream) {
  const TileGrid g = grid_of(s);
  const int64_t lists = g.views * g.tiles;
  if (lists == 0) return;
  forward_kernel<<<static_cast<unsigned>(lists), kThreads, 0, stream>>>(s, g, tile_offsets, tile_ids, rgb, alpha, depth);
  check_cuda(cudaGetLastError(), "forward_kernel");
}

template <typename scalar_t>
void composite_backward(const Splats<scalar_t>& s, const int64_t* tile_offsets, const int32_t* tile_ids, int64_t total,
                        const scalar_t* grad_rgb, const scalar_t* grad_alpha, const scalar_t* grad_depth,
                        const SplatGrads<scalar_t>& out, const Allocate& allocate, cudaStream_t stream) {
  const TileGrid g = grid_of(s);
  const int64_t items = g.views * g.count, lists = g.views * g.tiles;
  if (items == 0) return;
  // The CSR of rows per Gaussian, from the lists themselves (the backward has no visibility mask).
  auto* counts = static_cast<int64_t*>(allocate((items + 1) * sizeof(int64_t)));
  auto* gaussian_offsets = static_cast<int64_t*>(allocate((items + 1) * sizeof(int64_t)));
  auto* entry_grads = static_cast<scalar_t*>(allocate(std::max<int64_t>(total, 1) * kSlots * sizeof(scalar_t)));
  check_cuda(cudaMemsetAsync(counts, 0, items * sizeof(int64_t), stream), "memset");
  // Rows past a tile's last contribution are never written.
  check_cuda(cudaMemsetAsync(entry_grads, 0, total * kSlots * sizeof(scalar_t), stream), "memset");
  if (total > 0) {
    list_count_kernel<<<static_cast<unsigned>(lists), kLinearThreads, 0, stream>>>(tile_offsets, tile_ids, g.tiles,
                                                                                   g.count, counts);
    check_cuda(cudaGetLastError(), "list_count_kernel");
  }
  exclusive_sum(counts, items, gaussian_offsets, allocate, stream);
  Splats<scalar_t> geometry = s;
  geometry.visible = nullptr;
  if (total > 0) {
    backward_kernel<<<static_cast<unsigned>(lists), kThreads, 0, stream>>>(
        geometry, g, tile_offsets, tile_ids, gaussian_offsets, grad_rgb, grad_alpha, grad_depth, entry_grads);
    check_cuda(cudaGetLastError(), "backward_kernel");
  }
  gather_grads_kernel<<<blocks_for(items, kLinearThreads), kLinearThreads, 0, stream>>>(items, gaussian_offsets,
                                                                                      entry_grads, out);
  check_cuda(cudaGetLastError(), "gather_grads_kernel");
}

#define DREAMDPO_INSTANTIATE(T)                                                                                     \
  template int64_t count_tile_entries<T>(const Splats<T>&, int64_t*, const Allocate&, cudaStream_t);                \
  template void build_tile_lists<T>(const Splats<T>&, const int64_t*, int64_t, int64_t*, int32_t*, const Allocate&, \
                                    cudaStream_t);                                                                  \
  template void composite_forward<T>(const Splats<T>&, const int64_t*, const int32_t*, T*, T*, T*, cudaStream_t);   \
  template void composite_backward<T>(const Splats<T>&, const int64_t*, const int32_t*, int64_t, const T*, const T*, \
                                      const T*, const SplatGrads<T>&, const Allocate&, cudaStream_t);
DREAMDPO_INSTANTIATE(float)
DREAMDPO_INSTANTIATE(double)
#undef DREAMDPO_INSTANTIATE

}  // namespace dreamdpo::render::cuda
