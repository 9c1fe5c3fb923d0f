"""A small ray caster for the synthetic scenes: boxes, spheres and upright cylinders on a checkered ground.

Cameras are placed on a sphere around the scene in Zero-1-to-3's convention: polar angle from the +z axis,
azimuth in the x-y plane from +x, radius from the look-at point, all in degrees and scene units. A novel view
is the input camera's spherical position plus a relative (polar, azimuth, radius) pose, so ``left``
(0, -90, 0) orbits the camera by -90 degrees of azimuth around the vertical axis.

Everything is vectorised over pixels with NumPy, float64, no randomness: the same scene and camera give the
same bytes on the same machine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

RENDERER_VERSION = "1"  # bump when pixels change: it is part of every oracle view's cache key

COLORS: dict[str, tuple[int, int, int]] = {
    "red": (200, 40, 40),
    "green": (40, 160, 60),
    "blue": (40, 80, 210),
    "yellow": (225, 200, 40),
    "purple": (135, 60, 175),
    "orange": (235, 125, 30),
}
SHAPES = ("cube", "sphere", "cylinder")
LOOK_AT = np.array([0.0, 0.0, 0.35])
SKY = np.array([205.0, 222.0, 240.0])
GROUND = (np.array([170.0, 170.0, 165.0]), np.array([150.0, 150.0, 145.0]))
LIGHT = np.array([-0.4, -0.7, 1.0]) / np.linalg.norm([-0.4, -0.7, 1.0])
AMBIENT = 0.35


@dataclass(frozen=True)
class SceneObject:
    shape: str  # cube | sphere | cylinder
    color: str
    center: tuple[float, float, float]
    size: float  # edge of the cube, diameter of the sphere, diameter and height of the cylinder

    @property
    def name(self) -> str:
        return f"{self.color} {self.shape}"

    @property
    def top(self) -> float:
        return self.center[2] + self.size / 2


@dataclass(frozen=True)
class Camera:
    polar: float  # degrees from +z
    azimuth: float  # degrees from +x towards +y
    radius: float
    fov: float = 40.0  # vertical field of view, degrees

    def moved(self, polar: float = 0.0, azimuth: float = 0.0, radius: float = 0.0) -> Camera:
        """This camera moved by a relative pose (Zero-1-to-3 convention)."""
        return Camera(self.polar + polar, self.azimuth + azimuth, self.radius + radius, self.fov)

    def frame(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Camera position and its right, up and forward unit vectors."""
        th, ph = math.radians(self.polar), math.radians(self.azimuth)
        offset = np.array([math.sin(th) * math.cos(ph), math.sin(th) * math.sin(ph), math.cos(th)])
        position = LOOK_AT + self.radius * offset
        forward = -offset
        world_up = np.array([0.0, 0.0, 1.0])
        right = np.cross(forward, world_up)
        if np.linalg.norm(right) < 1e-6:  # straight above or below: keep the azimuth's direction as "up"
            right = np.cross(forward, np.array([-math.cos(ph), -math.sin(ph), 0.0]))
        right /= np.linalg.norm(right)
        up = np.cross(right, forward)
        return position, right, up, forward

    def to_camera(self, point) -> np.ndarray:
        """(x right, y up, depth) of a world point in this camera's frame."""
        position, right, up, forward = self.frame()
        d = np.asarray(point, dtype=np.float64) - position
        return np.array([d @ right, d @ up, d @ forward])

    def project(self, point, size: int) -> tuple[float, float]:
        """Pixel (column, row) of a world point in a size x size image."""
        x, y, depth = self.to_camera(point)
        f = 1.0 / math.tan(math.radians(self.fov) / 2)
        return ((x / depth * f + 1) * size / 2, (1 - y / depth * f) * size / 2)


def _hit_sphere(o, d, obj: SceneObject):
    c, r = np.array(obj.center), obj.size / 2
    oc = o - c
    b = np.sum(d * oc, axis=1)
    disc = b * b - (np.sum(oc * oc, axis=1) - r * r)
    t = -b - np.sqrt(np.maximum(disc, 0.0))
    t = np.where((disc >= 0) & (t > 1e-6), t, np.inf)
    normal = (o + t[:, None] * d) - c
    return t, normal / r


def _hit_box(o, d, obj: SceneObject):
    lo = np.array(obj.center) - obj.size / 2
    hi = np.array(obj.center) + obj.size / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = 1.0 / d
        t1, t2 = (lo - o) * inv, (hi - o) * inv
    tmin, tmax = np.minimum(t1, t2), np.maximum(t1, t2)
    tmin = np.nan_to_num(tmin, nan=-np.inf)
    tmax = np.nan_to_num(tmax, nan=np.inf)
    t_near, t_far = tmin.max(axis=1), tmax.min(axis=1)
    t = np.where((t_near <= t_far) & (t_near > 1e-6), t_near, np.inf)
    axis = tmin.argmax(axis=1)
    normal = np.zeros_like(d)
    normal[np.arange(len(d)), axis] = -np.sign(d[np.arange(len(d)), axis])
    return t, normal


def _hit_cylinder(o, d, obj: SceneObject):
    cx, cy, cz = obj.center
    r, z0, z1 = obj.size / 2, cz - obj.size / 2, cz + obj.size / 2
    ox, oy = o[:, 0] - cx, o[:, 1] - cy
    a = d[:, 0] ** 2 + d[:, 1] ** 2
    b = ox * d[:, 0] + oy * d[:, 1]
    c = ox * ox + oy * oy - r * r
    with np.errstate(divide="ignore", invalid="ignore"):
        disc = b * b - a * c
        t_side = (-b - np.sqrt(np.maximum(disc, 0.0))) / a
    z_side = o[:, 2] + t_side * d[:, 2]
    t_side = np.where((disc >= 0) & (a > 1e-12) & (t_side > 1e-6) & (z_side >= z0) & (z_side <= z1), t_side, np.inf)
    with np.errstate(divide="ignore", invalid="ignore"):
        t_cap = np.where(d[:, 2] < 0, (z1 - o[:, 2]) / d[:, 2], (z0 - o[:, 2]) / d[:, 2])
    px, py = ox + t_cap * d[:, 0], oy + t_cap * d[:, 1]
    t_cap = np.where((t_cap > 1e-6) & (px * px + py * py <= r * r), t_cap, np.inf)
    t = np.minimum(t_side, t_cap)
    p = o + np.where(np.isfinite(t), t, 0.0)[:, None] * d
    side = np.stack([(p[:, 0] - cx) / r, (p[:, 1] - cy) / r, np.zeros(len(d))], axis=1)
    cap = np.zeros_like(d)
    cap[:, 2] = -np.sign(d[:, 2])
    return t, np.where((t_side <= t_cap)[:, None], side, cap)


_HIT = {"sphere": _hit_sphere, "cube": _hit_box, "cylinder": _hit_cylinder}


def _nearest(o, d, objects):
    o = np.broadcast_to(o, d.shape)
    t_best = np.full(len(d), np.inf)
    index = np.full(len(d), -1)
    normal = np.zeros_like(d)
    for i, obj in enumerate(objects):
        t, n = _HIT[obj.shape](o, d, obj)
        closer = t < t_best
        t_best = np.where(closer, t, t_best)
        index = np.where(closer, i, index)
        normal = np.where(closer[:, None], n, normal)
    return t_best, index, normal


def render(objects: list[SceneObject], camera: Camera, size: int = 256) -> Image.Image:
    """Render the scene seen from `camera` as a size x size RGB image."""
    return render_layers(objects, camera, size)[0]


def render_layers(objects: list[SceneObject], camera: Camera, size: int = 256
                  ) -> tuple[Image.Image, np.ndarray, np.ndarray]:
    """(RGB image, depth along the optical axis (inf where sky), index of the object seen (-1: ground or sky)):
    the image and its exact depth map and object masks, for the oracle 3D prior."""
    position, right, up, forward = camera.frame()
    half = math.tan(math.radians(camera.fov) / 2)
    coords = (np.arange(size) + 0.5) / size * 2 - 1
    u, v = np.meshgrid(coords, -coords)
    d = forward + half * (u.reshape(-1, 1) * right + v.reshape(-1, 1) * up)
    d /= np.linalg.norm(d, axis=1, keepdims=True)

    t_obj, index, normal = _nearest(position, d, objects)
    with np.errstate(divide="ignore", invalid="ignore"):
        t_ground = np.where(d[:, 2] < -1e-9, -position[2] / d[:, 2], np.inf)
    ground = t_ground < t_obj
    t = np.minimum(t_obj, t_ground)
    hit = np.isfinite(t)
    p = position + np.where(hit, t, 0.0)[:, None] * d

    albedo = np.tile(SKY, (len(d), 1))
    palette = np.array([COLORS[o.color] for o in objects], dtype=np.float64).reshape(-1, 3)
    on_object = hit & ~ground
    albedo[on_object] = palette[index[on_object]]
    checker = (np.floor(p[:, 0] * 2) + np.floor(p[:, 1] * 2)).astype(np.int64) % 2 == 0
    albedo[ground & hit] = np.where(checker[ground & hit, None], GROUND[0], GROUND[1])
    normal[ground] = (0.0, 0.0, 1.0)

    lit = np.clip(normal @ LIGHT, 0.0, 1.0)
    shadow_t, _, _ = _nearest(p + normal * 1e-4, np.tile(LIGHT, (len(d), 1)), objects)
    lit = np.where(np.isfinite(shadow_t), 0.0, lit)
    shade = np.where(hit, AMBIENT + (1 - AMBIENT) * lit, 1.0)
    pixels = np.clip(np.rint(albedo * shade[:, None]), 0, 255).astype(np.uint8)
    depth = np.where(hit, t * (d @ forward), np.inf).reshape(size, size)
    seen = np.where(on_object, index, -1).reshape(size, size)
    return Image.fromarray(pixels.reshape(size, size, 3), mode="RGB"), depth, seen
