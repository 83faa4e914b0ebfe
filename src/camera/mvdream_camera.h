// Our cameras -> MVDream's camera conditioning, the one place this conversion lives.
//
// MVDream (bytedance/MVDream mvdream/camera_utils.py) trains on camera-to-world matrices built
// like ours (OpenGL camera axes, a y-up world, azimuth 0 / elevation 0 on +z with the identity
// rotation: create_camera_to_world_matrix), then moved to a z-up ("Blender") world by
// convert_opengl_to_blender, i.e. left-multiplied by
//     F = [[1,0,0,0],[0,0,-1,0],[0,1,0,0],[0,0,0,1]]    (x, y, z) -> (x, -z, y),
// and normalize_camera scales the translation onto the unit sphere (|t| + 1e-8). The 4x4 is
// flattened row-major to 16 numbers. threestudio, and so DreamDPO's guidance, samples z-up
// cameras directly and skips F ("the input of threestudio is already blender coordinate
// system"); our world is y-up, so we apply F.
#pragma once
#include <ATen/ATen.h>

namespace dreamdpo::camera {

// c2w [N,4,4] (OpenGL convention, y-up world) -> [N,16] MVDream camera, in c2w's dtype/device.
at::Tensor mvdream_camera(const at::Tensor& c2w);

}  // namespace dreamdpo::camera
