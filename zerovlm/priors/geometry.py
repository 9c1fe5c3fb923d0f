"""From a depth map and object masks to 3D objects, their nearest neighbours per direction and the shot angle.

Coordinates are SpatialPIN's, aligned with the camera: x points right, y away from the viewer (along the optical
axis), z up (the image's up). A pixel (u, v) at depth d back-projects with the pinhole of a vertical field of
view fov: focal = H / (2 tan(fov / 2)), x = (u + 0.5 - W / 2) d / focal, z = (H / 2 - v - 0.5) d / focal, y = d.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

DIRECTIONS = ("left", "right", "up", "down", "front", "back")


def focal_length(height: int, fov: float) -> float:
    return height / (2 * math.tan(math.radians(fov) / 2))


def back_project(depth: np.ndarray, mask: np.ndarray, fov: float) -> np.ndarray:
    """(N, 3) points (x right, y away, z up) of the masked pixels with a finite depth."""
    v, u = np.nonzero(mask & np.isfinite(depth))
    d = depth[v, u]
    height, width = depth.shape
    f = focal_length(height, fov)
    return np.stack([(u + 0.5 - width / 2) * d / f, d, (height / 2 - v - 0.5) * d / f], axis=1)


@dataclass
class Object3D:
    name: str
    center: tuple[float, float, float] | None  # None: not found in the image
    size: tuple[float, float, float] | None  # width (x) x depth (y) x height (z)


def locate(name: str, points: np.ndarray) -> Object3D:
    """An object's centre and size from the points of its visible surface.

    The visible surface is the object's front: its depth extent is taken as at least its width (a footprint
    about as deep as wide), and the centre sits half that behind the nearest points."""
    if len(points) == 0:
        return Object3D(name, None, None)
    lo, hi = np.percentile(points, 2, axis=0), np.percentile(points, 98, axis=0)
    width, height = hi[0] - lo[0], hi[2] - lo[2]
    depth = max(hi[1] - lo[1], width)
    center = ((lo[0] + hi[0]) / 2, lo[1] + depth / 2, (lo[2] + hi[2]) / 2)
    return Object3D(name, tuple(float(c) for c in center), (float(width), float(depth), float(height)))


def closest_per_direction(objects: list[Object3D]) -> list[dict[str, tuple[int, float]]]:
    """For each object, {direction: (index of the nearest other object that way, distance)}."""
    out = []
    for i, a in enumerate(objects):
        nearest: dict[str, tuple[int, float]] = {}
        if a.center is not None:
            for j, b in enumerate(objects):
                if i == j or b.center is None:
                    continue
                dx, dy, dz = np.subtract(b.center, a.center)
                distance = float(np.linalg.norm((dx, dy, dz)))
                for direction, holds in zip(DIRECTIONS, (dx < 0, dx > 0, dz > 0, dz < 0, dy < 0, dy > 0),
                                            strict=True):
                    if holds and (direction not in nearest or distance < nearest[direction][1]):
                        nearest[direction] = (j, distance)
        out.append({d: nearest[d] for d in DIRECTIONS if d in nearest})
    return out


def shot_angle(depth: np.ndarray, ground: np.ndarray, fov: float, tilted: float = 30.0, steep: float = 60.0
               ) -> tuple[str, float | None]:
    """("horizontal" | "top-down" | "bottom-up", camera pitch in degrees, down positive) from a plane fitted to
    the ground's points; ("unknown", None) with too few of them."""
    points = back_project(depth, ground, fov)
    if len(points) < 50:
        return "unknown", None
    a = np.c_[points[:, 0], points[:, 1], np.ones(len(points))]
    (gx, gy, _), *_ = np.linalg.lstsq(a, points[:, 2], rcond=None)  # ground: z = gx x + gy y + c
    pitch = math.degrees(math.atan(gy))  # the ground rises away from a camera that looks down
    if pitch >= steep:
        return "top-down", pitch
    if pitch <= -tilted:
        return "bottom-up", pitch
    return "horizontal", pitch
