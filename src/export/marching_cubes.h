// Isosurface extraction by marching tetrahedra: each grid cell is split into the 6
// tetrahedra around its main diagonal (Freudenthal/Kuhn split, the same in every cell, so
// neighbouring cells split shared faces alike). Unlike the 256-case marching-cubes table this
// has no ambiguous cases, so the surface is always a closed manifold away from the grid
// boundary, at the cost of about twice the triangles.
#pragma once
#include <ATen/ATen.h>

#include <array>

#include "export/mesh.h"

namespace dreamdpo::exporters {

// field [X,Y,Z] (X,Y,Z >= 2) sampled at box_min + (i,j,k) * (box_max - box_min) / (dims - 1);
// "inside" is where field > iso. Returns vertices in world units, one per crossed grid edge
// (shared between cells), normals = -gradient of the field (central differences, trilinear at
// the vertex), colours trilinear from `colour` [X,Y,Z,3] (white when undefined), faces
// counter-clockwise seen from outside. A field that never crosses iso gives an empty mesh
// (0 vertices, 0 faces). The surface is open where it leaves the grid.
Mesh extract_isosurface(const at::Tensor& field, double iso, const std::array<float, 3>& box_min,
                        const std::array<float, 3>& box_max, const at::Tensor& colour = {});

}  // namespace dreamdpo::exporters
