"""Render the example photos: rooms composed from CC0 furniture models, rendered with Blender's Cycles.

The models are the BlendSwap-CC-0 collection of Sweet Home 3D's furniture library (Debian package
sweethome3d-furniture; CC0). Not part of the app; kept to show where the photos come from. Run:

    apt-get install blender sweethome3d-furniture
    mkdir -p /tmp/sh3f && unzip -o /usr/share/sweethome3d/furniture/BlendSwap-CC-0.sh3f -d /tmp/sh3f
    blender -b -P examples/render_scenes.py -- living-room examples/living-room.jpg 48
"""

import math
import sys

import bpy
from mathutils import Vector

ROOT = "/tmp/sh3f"  # where BlendSwap-CC-0.sh3f was unzipped
M = {  # name: (obj path, width, depth, height) in cm, from PluginFurnitureCatalog.properties
    "couch": ("blendswap-cc-0/couch/couch.obj", 207.4, 87.6, 85.6),
    "armchair": ("blendswap-cc-0/modernArmchair/modernArmchair.obj", 77.3, 84.9, 86.5),
    "winchester": ("blendswap-cc-0/winchesterArmchair/winchesterArmchair.obj", 112, 93.4, 80.4),
    "plant": ("blendswap-cc-0/decorativePlant/decorativePlant.obj", 55.9, 60.2, 103.1),
    "osaka": ("blendswap-cc-0/osakaChair/osakaChair.obj", 47.5, 52.5, 77),
    "bed": ("blendswap-cc-0/bed3/bed3.obj", 202.2, 228.2, 114.2),
    "bedside": ("blendswap-cc-0/bedsideTable2/bedsideTable2.obj", 48.55, 48.1, 45.4),
}
# (model, x cm, y cm, z cm, rotation degrees about the vertical axis); the camera looks along +y.
SCENES = {
    "living-room": [
        ("couch", 0, 130, 0, 0),
        ("armchair", -165, 50, 0, 35),
        ("plant", 160, 150, 0, 0),
        ("osaka", 120, 10, 0, -30),
    ],
    "bedroom": [
        ("bed", 0, 140, 0, 0),
        ("bedside", -140, 210, 0, 0),
        ("bedside", 140, 210, 0, 0),
        ("plant", 200, 120, 0, 0),
        ("winchester", 175, 20, 0, -35),
    ],
}
CAMERAS = {
    "living-room": ((60, -260, 150), 72),
    "bedroom": ((-70, -230, 170), 68),
}  # position cm, field of view degrees


def place(name, x, y, z, rot):
    path, w, d, h = M[name]
    before = set(bpy.data.objects)
    bpy.ops.wm.obj_import(filepath=f"{ROOT}/{path}")
    parts = [o for o in bpy.data.objects if o not in before]
    bpy.ops.object.select_all(action="DESELECT")
    for o in parts:
        o.select_set(True)
    bpy.context.view_layer.objects.active = parts[0]
    if len(parts) > 1:
        bpy.ops.object.join()
    obj = bpy.context.view_layer.objects.active
    bpy.ops.object.origin_set(type="ORIGIN_GEOMETRY", center="BOUNDS")
    dims = obj.dimensions
    obj.scale = (w / 100 / dims.x, d / 100 / dims.y, h / 100 / dims.z)  # to the catalog's size
    obj.rotation_euler[2] = math.radians(rot)
    obj.location = (x / 100, y / 100, z / 100 + h / 200)
    return obj


def material(name, rgb, rough=0.6):
    m = bpy.data.materials.new(name)
    m.use_nodes = True
    bsdf = m.node_tree.nodes["Principled BSDF"]
    bsdf.inputs["Base Color"].default_value = (*rgb, 1)
    bsdf.inputs["Roughness"].default_value = rough
    return m


def plane(size, loc, rot, mat):
    bpy.ops.mesh.primitive_plane_add(size=size, location=loc, rotation=rot)
    bpy.context.active_object.data.materials.append(mat)


def main(scene, out):
    bpy.ops.wm.read_factory_settings(use_empty=True)
    for item in SCENES[scene]:
        place(*item)
    plane(12, (0, 1, 0), (0, 0, 0), material("floor", (0.22, 0.13, 0.07), 0.35))
    plane(12, (0, 2.3, 3), (math.radians(90), 0, 0), material("wall", (0.50, 0.56, 0.52)))
    plane(12, (-2.6, 1, 3), (0, math.radians(90), 0), material("wall2", (0.62, 0.6, 0.55)))
    bpy.ops.object.light_add(type="AREA", location=(1.0, -1.2, 2.6))
    light = bpy.context.active_object
    light.data.energy, light.data.size = 350, 2.5
    light.rotation_euler = (math.radians(35), 0, math.radians(15))
    bpy.ops.object.light_add(type="SUN", location=(0, 0, 5))
    sun = bpy.context.active_object
    sun.data.energy = 1.2
    sun.rotation_euler = (math.radians(50), math.radians(-20), math.radians(30))
    world = bpy.data.worlds.new("w")
    world.use_nodes = True
    world.node_tree.nodes["Background"].inputs[0].default_value = (0.8, 0.8, 0.82, 1)
    world.node_tree.nodes["Background"].inputs[1].default_value = 0.35
    bpy.context.scene.world = world
    (cx, cy, cz), fov = CAMERAS[scene]
    bpy.ops.object.camera_add(location=(cx / 100, cy / 100, cz / 100))
    cam = bpy.context.active_object
    cam.data.angle = math.radians(fov)
    target = Vector((0, 0.9, 0.55))
    cam.rotation_euler = (target - cam.location).to_track_quat("-Z", "Y").to_euler()
    s = bpy.context.scene
    s.camera = cam
    s.render.engine = "CYCLES"
    s.cycles.device = "CPU"
    s.cycles.samples = int(sys.argv[-1]) if sys.argv[-1].isdigit() else 48
    s.cycles.use_denoising = False  # Debian's Blender is built without OpenImageDenoise
    s.render.resolution_x, s.render.resolution_y = 960, 640
    s.render.image_settings.file_format = "JPEG"
    s.render.image_settings.quality = 88
    s.view_settings.view_transform = "Filmic"
    s.view_settings.look = "Medium High Contrast"
    s.render.filepath = out
    bpy.ops.render.render(write_still=True)


args = sys.argv[sys.argv.index("--") + 1 :]
main(args[0], args[1])
