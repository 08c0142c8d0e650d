"""The ``glancev2`` driver: OpenStack Images (Glance, Image API v2).

Imports: standard library and congress.datasources (openstacksdk through the base).

``images`` is ``GET /v2/images`` (every page, following ``next``) as the Image API v2
reference documents an image; ``tags`` has one row per tag of each image. Actions keep
glanceclient v2's names and argument conventions (``images.deactivate(image_id)``,
``image_tags.update(image_id, tag_value)``...) and send the Image API v2 requests through the
``image`` proxy of openstacksdk.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar
from urllib.parse import quote

from congress.datasources import translators as tr
from congress.datasources.errors import ServiceError
from congress.datasources.execution import Action, owner_at, target_arg
from congress.datasources.openstack import OpenStackDriver

JSON_PATCH = "application/openstack-images-v2.1-json-patch"

IMAGES = tr.HDict(
    table="images",
    fields=[
        tr.Field("id", desc="UUID of image"),
        tr.Field("status", desc="The image status"),
        tr.Field("name", desc="Image Name"),
        tr.Field("container_format", desc="The container format of image"),
        tr.Field("created_at", desc="The date and time when the resource was created"),
        tr.Field("updated_at", desc="The date and time when the resource was updated."),
        tr.Field("disk_format", desc="The disk format of the image."),
        tr.Field("owner", desc="The ID of the owner or tenant of the image"),
        tr.Field("protected", desc="Indicates whether the image can be deleted."),
        tr.Field("min_ram", desc="minimum amount of RAM in MB required to boot the image"),
        tr.Field("min_disk", desc="minimum disk size in GB required to boot the image"),
        tr.Field("checksum", desc="Hash of the image data used"),
        tr.Field("size", desc="The size of the image data, in bytes."),
        tr.Field("file", desc="URL for the virtual machine image file"),
        tr.Field("kernel_id", desc="kernal id"),
        tr.Field("ramdisk_id", desc="ramdisk id"),
        tr.Field("schema", desc="URL for schema of the virtual machine image"),
        tr.Field("visibility", desc="The image visibility"),
        tr.Field(
            "tags",
            tr.ListSpec(
                table="tags",
                val_col="tag",
                val_col_desc="List of image tags",
                parent_key="id",
                parent_col_name="image_id",
                parent_key_desc="UUID of image",
            ),
        ),
    ],
)

_IMAGE = ("image_id", "ID of the image")


class GlanceV2Driver(OpenStackDriver):
    """Datasource driver that interfaces with OpenStack Images aka Glance."""

    DRIVER_NAME: ClassVar[str] = "glancev2"
    PROJECT_COLUMNS: ClassVar[Mapping[str, str]] = {"images": "owner"}
    DESCRIPTION: ClassVar[str] = (
        "Datasource driver that interfaces with OpenStack Images aka Glance."
    )
    SERVICE_TYPE: ClassVar[str] = "image"
    PROXY: ClassVar[str] = "image"
    TRANSLATORS: ClassVar[tuple[tr.TableSpec, ...]] = (IMAGES,)
    ACTIONS: ClassVar[Mapping[str, Action]] = {
        "images.delete": Action("Delete an image.", (_IMAGE,), "delete_image"),
        "images.deactivate": Action(
            "Deactivate an image (its data can no longer be downloaded).",
            (_IMAGE,),
            "deactivate_image",
        ),
        "images.reactivate": Action(
            "Reactivate a deactivated image.", (_IMAGE,), "reactivate_image"
        ),
        "images.update": Action(
            "Update an image's attributes: each named argument sets the attribute of that "
            "name (added if the image lacks it); remove_props lists attributes to remove.",
            (_IMAGE, ("remove_props", "names of the attributes to remove (optional)")),
            "update_image",
        ),
        "image_tags.update": Action(
            "Add a tag to an image.",
            (_IMAGE, ("tag_value", "the tag")),
            "add_tag",
        ),
        "image_tags.delete": Action(
            "Remove a tag from an image.",
            (_IMAGE, ("tag_value", "the tag")),
            "remove_tag",
        ),
        "image_members.create": Action(
            "Share an image with a project.",
            (_IMAGE, ("member_id", "ID of the project to share the image with")),
            "add_member",
        ),
        "image_members.delete": Action(
            "Stop sharing an image with a project.",
            (_IMAGE, ("member_id", "ID of the project the image is shared with")),
            "remove_member",
        ),
    }

    def fetch(self, root: str) -> Any:
        if root == "images":
            return self.list_all("/images", "images")
        raise ServiceError(f"glancev2 has no root table {root!r}")

    # -- actions (Image API v2) --------------------------------------------------------------
    def target_project(
        self,
        action: str,
        positional: Sequence[Any] = (),
        named: Mapping[str, Any] | None = None,
    ) -> str | None:
        """The image's ``owner`` (every action acts on one image); None when it cannot be
        read."""
        if action not in self.ACTIONS:
            return None
        image_id = target_arg(positional, named, "image_id")
        if image_id is None:
            return None
        try:
            return owner_at(self.get_json(_image(image_id)), "owner")
        except ServiceError:
            return None

    def delete_image(self, image_id: str) -> None:
        self.request("DELETE", _image(image_id))

    def deactivate_image(self, image_id: str) -> None:
        self.request("POST", f"{_image(image_id)}/actions/deactivate")

    def reactivate_image(self, image_id: str) -> None:
        self.request("POST", f"{_image(image_id)}/actions/reactivate")

    def update_image(
        self, image_id: str, remove_props: Sequence[str] | None = None, **attributes: Any
    ) -> None:
        """As glanceclient: read the image, then send one JSON patch that replaces the
        attributes it has, adds the others and removes ``remove_props`` it has."""
        current = self.get_json(_image(image_id))
        if not isinstance(current, Mapping):
            raise ServiceError(f"GET {_image(image_id)}: the answer is not an image")
        patch: list[dict[str, Any]] = []
        for name, value in attributes.items():
            op = "replace" if name in current else "add"
            patch.append({"op": op, "path": f"/{_pointer(name)}", "value": value})
        if isinstance(remove_props, str):
            remove_props = [remove_props]
        for name in remove_props or ():
            if name in current and name not in attributes:
                patch.append({"op": "remove", "path": f"/{_pointer(name)}"})
        if patch:
            headers = {"Content-Type": JSON_PATCH}
            self.request("PATCH", _image(image_id), json=patch, headers=headers)

    def add_tag(self, image_id: str, tag_value: str) -> None:
        self.request("PUT", f"{_image(image_id)}/tags/{quote(str(tag_value), safe='')}")

    def remove_tag(self, image_id: str, tag_value: str) -> None:
        self.request("DELETE", f"{_image(image_id)}/tags/{quote(str(tag_value), safe='')}")

    def add_member(self, image_id: str, member_id: str) -> None:
        self.request("POST", f"{_image(image_id)}/members", json={"member": member_id})

    def remove_member(self, image_id: str, member_id: str) -> None:
        self.request("DELETE", f"{_image(image_id)}/members/{quote(str(member_id), safe='')}")


def _image(image_id: str) -> str:
    return f"/images/{quote(str(image_id), safe='')}"


def _pointer(name: str) -> str:
    """``name`` as one JSON-pointer token (RFC 6901)."""
    return name.replace("~", "~0").replace("/", "~1")
