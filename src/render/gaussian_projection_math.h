// The per-Gaussian maths of the EWA projection, forward and hand-written backward, shared by
// the CPU kernel (gaussian_projection_cpu.cpp) and the CUDA kernel (gaussian_projection_cuda.cu):
// both loop over Gaussians and call these functions, so the two devices run the same code.
// Plain C++ (no LibTorch) so nvcc compiles it; the layout is that of gaussian_projection.h.
//
// For Gaussian n seen by view b (W, t = rotation and translation of the world-to-camera matrix):
//   p = W mean + t,  depth = -p.z,  visible = depth > near_plane,  d = visible ? depth : 1
//   (u, v) = (width/2 + f p.x / d, height/2 - f p.y / d)
//   J = [[f/d, 0, f p.x/d^2], [0, -f/d, -f p.y/d^2]]  (Jacobian of (u, v) w.r.t. p)
//   T = J W R(q) diag(s),  Sigma = T T^T + low_pass I,  conic = Sigma^-1 as (a, b, c)
#pragma once
#include <cstdint>

#ifdef __CUDACC__
#define DREAMDPO_HOST_DEVICE __host__ __device__
#else
#define DREAMDPO_HOST_DEVICE
#endif

namespace dreamdpo::render::projection {

template <typename T>
struct Inputs {
  int64_t views, count;  // B, N
  const T* means;        // [N,3]
  const T* scales;       // [N,3] activated
  const T* rotations;    // [N,4] unit quaternions wxyz
  const T* w2c;          // [B,4,4] row-major world-to-camera
  const T* focal;        // [B] pixels
  T half_width, half_height, near_plane, low_pass;
};

template <typename T>
struct Outputs {
  T* means2d;     // [B,N,2]
  T* conics;      // [B,N,3]
  T* depths;      // [B,N]
  bool* visible;  // [B,N]
};

// Upstream gradients (of the outputs) in, parameter gradients out.
template <typename T>
struct Gradients {
  const T* means2d;  // [B,N,2]
  const T* conics;   // [B,N,3]
  const T* depths;   // [B,N]
  T* means;          // [N,3]
  T* scales;         // [N,3]
  T* rotations;      // [N,4]
};

// R(q) for a unit quaternion wxyz (the formula of scene::rotation_matrices).
template <typename T>
DREAMDPO_HOST_DEVICE inline void rotation_matrix(const T* q, T r[3][3]) {
  const T w = q[0], x = q[1], y = q[2], z = q[3];
  r[0][0] = 1 - 2 * (y * y + z * z), r[0][1] = 2 * (x * y - w * z), r[0][2] = 2 * (x * z + w * y);
  r[1][0] = 2 * (x * y + w * z), r[1][1] = 1 - 2 * (x * x + z * z), r[1][2] = 2 * (y * z - w * x);
  r[2][0] = 2 * (x * z - w * y), r[2][1] = 2 * (y * z + w * x), r[2][2] = 1 - 2 * (x * x + y * y);
}

// What the backward needs of one (view, Gaussian) forward; recomputed there rather than stored.
template <typename T>
struct ViewState {
  bool visible;
  T x, y, depth, d;
  T a[2][3];  // J W
  T t[2][3];  // J W R diag(s)
  T conic[3];
  T u, v;
};

// m = R diag(s) of Gaussian n.
template <typename T>
DREAMDPO_HOST_DEVICE inline void gaussian_shape(const Inputs<T>& in, int64_t n, T m[3][3]) {
  T r[3][3];
  rotation_matrix(in.rotations + 4 * n, r);
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) m[i][j] = r[i][j] * in.scales[3 * n + j];
}

template <typename T>
DREAMDPO_HOST_DEVICE inline void project_view(const Inputs<T>& in, int64_t view, int64_t n, const T m[3][3],
                                              ViewState<T>& s) {
  const T* w2c = in.w2c + 16 * view;
  const T* mean = in.means + 3 * n;
  T p[3];
  for (int i = 0; i < 3; ++i) p[i] = w2c[4 * i] * mean[0] + w2c[4 * i + 1] * mean[1] + w2c[4 * i + 2] * mean[2] + w2c[4 * i + 3];
  const T f = in.focal[view];
  s.x = p[0], s.y = p[1], s.depth = -p[2];
  s.visible = s.depth > in.near_plane;
  // Culled Gaussians get a harmless d so their (unused) outputs stay finite.
  s.d = s.visible ? s.depth : T(1);
  const T d = s.d;
  s.u = in.half_width + f * s.x / d;
  s.v = in.half_height - f * s.y / d;  // rows grow downwards
  const T j00 = f / d, j02 = f * s.x / (d * d), j11 = -f / d, j12 = -f * s.y / (d * d);
  for (int k = 0; k < 3; ++k) {
    s.a[0][k] = j00 * w2c[k] + j02 * w2c[8 + k];
    s.a[1][k] = j11 * w2c[4 + k] + j12 * w2c[8 + k];
  }
  for (int r = 0; r < 2; ++r)
    for (int k = 0; k < 3; ++k) s.t[r][k] = s.a[r][0] * m[0][k] + s.a[r][1] * m[1][k] + s.a[r][2] * m[2][k];
  const T s00 = s.t[0][0] * s.t[0][0] + s.t[0][1] * s.t[0][1] + s.t[0][2] * s.t[0][2] + in.low_pass;
  const T s01 = s.t[0][0] * s.t[1][0] + s.t[0][1] * s.t[1][1] + s.t[0][2] * s.t[1][2];
  const T s11 = s.t[1][0] * s.t[1][0] + s.t[1][1] * s.t[1][1] + s.t[1][2] * s.t[1][2] + in.low_pass;
  const T det = s00 * s11 - s01 * s01;
  s.conic[0] = s11 / det, s.conic[1] = -s01 / det, s.conic[2] = s00 / det;
}

// Forward of Gaussian n for every view.
template <typename T>
DREAMDPO_HOST_DEVICE inline void project_gaussian(const Inputs<T>& in, int64_t n, const Outputs<T>& out) {
  T m[3][3];
  gaussian_shape(in, n, m);
  for (int64_t view = 0; view < in.views; ++view) {
    ViewState<T> s;
    project_view(in, view, n, m, s);
    const int64_t i = view * in.count + n;
    out.means2d[2 * i] = s.u, out.means2d[2 * i + 1] = s.v;
    for (int k = 0; k < 3; ++k) out.conics[3 * i + k] = s.conic[k];
    out.depths[i] = s.depth;
    out.visible[i] = s.visible;
  }
}

// Backward of Gaussian n: the sum over views 0..B-1, in that order, of each view's
// contribution (a fixed order: bit-identical on every call). Culled (view, Gaussian) pairs
// contribute nothing, whatever gradient their outputs received.
template <typename T>
DREAMDPO_HOST_DEVICE inline void project_gaussian_backward(const Inputs<T>& in, int64_t n, const Gradients<T>& g) {
  T m[3][3];
  gaussian_shape(in, n, m);
  T g_mean[3] = {0, 0, 0};
  T g_m[3][3] = {{0, 0, 0}, {0, 0, 0}, {0, 0, 0}};
  for (int64_t view = 0; view < in.views; ++view) {
    ViewState<T> s;
    project_view(in, view, n, m, s);
    if (!s.visible) continue;
    const int64_t i = view * in.count + n;
    const T* w2c = in.w2c + 16 * view;
    const T f = in.focal[view], d = s.d;
    // conic = Sigma^-1: d conic / d Sigma entries, written with the conic itself.
    const T a = s.conic[0], b = s.conic[1], c = s.conic[2];
    const T ga = g.conics[3 * i], gb = g.conics[3 * i + 1], gc = g.conics[3 * i + 2];
    const T g_s00 = -(ga * a * a + gb * a * b + gc * b * b);
    const T g_s11 = -(ga * b * b + gb * b * c + gc * c * c);
    const T g_s01 = -(2 * ga * a * b + gb * (a * c + b * b) + 2 * gc * b * c);
    // Sigma = T T^T (s01 is the single off-diagonal entry).
    T g_t[2][3];
    for (int k = 0; k < 3; ++k) {
      g_t[0][k] = 2 * g_s00 * s.t[0][k] + g_s01 * s.t[1][k];
      g_t[1][k] = g_s01 * s.t[0][k] + 2 * g_s11 * s.t[1][k];
    }
    // T = A m with A = J W.
    for (int r = 0; r < 3; ++r)
      for (int k = 0; k < 3; ++k) g_m[r][k] += s.a[0][r] * g_t[0][k] + s.a[1][r] * g_t[1][k];
    T g_a[2][3];
    for (int r = 0; r < 2; ++r)
      for (int k = 0; k < 3; ++k) g_a[r][k] = g_t[r][0] * m[k][0] + g_t[r][1] * m[k][1] + g_t[r][2] * m[k][2];
    // A = J W: the four non-constant entries of J.
    const T g_j00 = g_a[0][0] * w2c[0] + g_a[0][1] * w2c[1] + g_a[0][2] * w2c[2];
    const T g_j02 = g_a[0][0] * w2c[8] + g_a[0][1] * w2c[9] + g_a[0][2] * w2c[10];
    const T g_j11 = g_a[1][0] * w2c[4] + g_a[1][1] * w2c[5] + g_a[1][2] * w2c[6];
    const T g_j12 = g_a[1][0] * w2c[8] + g_a[1][1] * w2c[9] + g_a[1][2] * w2c[10];
    const T gu = g.means2d[2 * i], gv = g.means2d[2 * i + 1];
    const T f_d = f / d, f_d2 = f / (d * d), f_d3 = f / (d * d * d);
    const T g_x = g_j02 * f_d2 + gu * f_d;
    const T g_y = -g_j12 * f_d2 - gv * f_d;
    const T g_d = -g_j00 * f_d2 - 2 * g_j02 * s.x * f_d3 + g_j11 * f_d2 + 2 * g_j12 * s.y * f_d3 - gu * s.x * f_d2 +
                  gv * s.y * f_d2 + g.depths[i];
    const T g_p[3] = {g_x, g_y, -g_d};  // depth = -p.z
    for (int k = 0; k < 3; ++k) g_mean[k] += w2c[k] * g_p[0] + w2c[4 + k] * g_p[1] + w2c[8 + k] * g_p[2];
  }
  for (int k = 0; k < 3; ++k) g.means[3 * n + k] = g_mean[k];
  // m = R diag(s).
  const T* q = in.rotations + 4 * n;
  const T* scale = in.scales + 3 * n;
  T r[3][3], g_r[3][3];
  rotation_matrix(q, r);
  for (int k = 0; k < 3; ++k) {
    g.scales[3 * n + k] = g_m[0][k] * r[0][k] + g_m[1][k] * r[1][k] + g_m[2][k] * r[2][k];
    for (int i = 0; i < 3; ++i) g_r[i][k] = g_m[i][k] * scale[k];
  }
  // d R / d (w, x, y, z), entry by entry from rotation_matrix.
  const T w = q[0], x = q[1], y = q[2], z = q[3];
  g.rotations[4 * n] = 2 * (-z * g_r[0][1] + y * g_r[0][2] + z * g_r[1][0] - x * g_r[1][2] - y * g_r[2][0] + x * g_r[2][1]);
  g.rotations[4 * n + 1] = 2 * (y * g_r[0][1] + z * g_r[0][2] + y * g_r[1][0] - 2 * x * g_r[1][1] - w * g_r[1][2] +
                                z * g_r[2][0] + w * g_r[2][1] - 2 * x * g_r[2][2]);
  g.rotations[4 * n + 2] = 2 * (-2 * y * g_r[0][0] + x * g_r[0][1] + w * g_r[0][2] + x * g_r[1][0] + z * g_r[1][2] -
                                w * g_r[2][0] + z * g_r[2][1] - 2 * y * g_r[2][2]);
  g.rotations[4 * n + 3] = 2 * (-2 * z * g_r[0][0] - w * g_r[0][1] + x * g_r[0][2] + w * g_r[1][0] - 2 * z * g_r[1][1] +
                                y * g_r[1][2] + x * g_r[2][0] + y * g_r[2][1]);
}

}  // namespace dreamdpo::render::projection
