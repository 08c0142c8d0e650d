"""A fake Glance (Image API v2) on a ``FakeCloud``: images, paging, tags, members, actions.

The catalog endpoint is unversioned (``/image``) as in a devstack cloud: its root answers
version discovery with the ``versions`` list and the API lives under ``/image/v2``. Images
have the fields the Image API v2 reference shows (including the ones the driver ignores:
``self``, ``os_hash_*``, ``os_hidden``, ``virtual_size``, ``stores``, custom properties). The
list is paged ``page_size`` images at a time with ``next`` links and ``limit``/``marker``.
"""

from __future__ import annotations

import copy
from typing import Any

from fakecloud import PROJECT_ID, FakeCloud, Recorded

PREFIX = "/image/v2"
JSON_PATCH = "application/openstack-images-v2.1-json-patch"
OTHER_PROJECT = "5ef70662f8b34079a6eddb8da9d75fe8"

CIRROS_ID = "1bea47ed-f6a9-463b-b423-14b9cca9ad27"
UBUNTU_ID = "781b3762-9469-4cec-b58d-3349e5de4e9c"
KERNEL_ID = "e1b6edd4-bd9b-40ac-b010-8a6c16de4ba4"
RAMDISK_ID = "a9b3f12c-5c1d-4a0a-9f2e-7c6d3b2a1e0f"
AMI_ID = "0c4a1d6e-2f8b-4c3a-9e7d-5b6a8f9c0d1e"


def image(
    image_id: str,
    name: str,
    *,
    owner: str = PROJECT_ID,
    tags: list[str] | None = None,
    status: str = "active",
    visibility: str = "public",
    protected: bool = False,
    container_format: str = "bare",
    disk_format: str = "qcow2",
    size: int | None = 13167616,
    checksum: str | None = "64d7c1cd2b6f60c92c14662941cb7913",
    min_ram: int = 0,
    min_disk: int = 0,
    **properties: Any,
) -> dict[str, Any]:
    """An image as ``GET /v2/images`` shows it."""
    return {
        "status": status,
        "name": name,
        "tags": list(tags or []),
        "container_format": container_format,
        "created_at": "2024-11-07T17:07:06Z",
        "disk_format": disk_format,
        "updated_at": "2024-11-07T17:19:09Z",
        "visibility": visibility,
        "self": f"/v2/images/{image_id}",
        "min_disk": min_disk,
        "protected": protected,
        "id": image_id,
        "file": f"/v2/images/{image_id}/file",
        "checksum": checksum,
        "os_hash_algo": "sha512",
        "os_hash_value": "073b4523583784fbe01daff81eba092a262ec37ba6d04dd3f52e4cd5c93eb8258af44"
        "881345ecda0e0ad72a3f1b8dce0b3fe3b0d8d12b21f4d1a98a2ca2ad1d7",
        "os_hidden": False,
        "owner": owner,
        "size": size,
        "min_ram": min_ram,
        "schema": "/v2/schemas/image",
        "virtual_size": None,
        "stores": "file",
        **properties,
    }


def initial_images() -> list[dict[str, Any]]:
    return [
        image(CIRROS_ID, "cirros-0.6.2-x86_64-disk", tags=["test", "small"], hw_rng_model="virtio"),
        image(
            UBUNTU_ID,
            "ubuntu-24.04",
            owner=OTHER_PROJECT,
            visibility="shared",
            protected=True,
            size=629145600,
            checksum="a3d3fb4e9bd1d0d1c5d3e0e9c6a7e3c1",
            min_ram=512,
            min_disk=10,
            tags=[],
            os_distro="ubuntu",
        ),
        image(
            AMI_ID,
            "cirros-ami",
            container_format="ami",
            disk_format="ami",
            kernel_id=KERNEL_ID,
            ramdisk_id=RAMDISK_ID,
            tags=["ami"],
        ),
        image(
            KERNEL_ID,
            "cirros-kernel",
            status="queued",
            visibility="private",
            container_format="aki",
            disk_format="aki",
            size=None,
            checksum=None,
        ),
    ]


class FakeGlance:
    """Image API v2 routes on ``cloud`` over a mutable list of images."""

    def __init__(self, cloud: FakeCloud, page_size: int = 2) -> None:
        self.cloud = cloud
        self.page_size = page_size
        self.images: list[dict[str, Any]] = []
        self.members: dict[str, list[str]] = {}
        self.reset()
        cloud.add_service("image", "glance", "/image")
        self._routes()

    def reset(self) -> None:
        self.images = initial_images()
        self.members = {}

    def find(self, image_id: str) -> dict[str, Any] | None:
        return next((i for i in self.images if i["id"] == image_id), None)

    def _routes(self) -> None:
        cloud = self.cloud
        route = cloud.route

        @route("GET", "/image")
        def versions(request: Recorded) -> Any:
            def version(ident: str, status: str) -> dict[str, Any]:
                link = {"rel": "self", "href": f"{cloud.url}{PREFIX}/"}
                return {"id": ident, "status": status, "links": [link]}

            return 300, {
                "versions": [
                    version("v2.16", "CURRENT"),
                    version("v2.15", "SUPPORTED"),
                    version("v2.0", "SUPPORTED"),
                ]
            }

        @route("GET", f"{PREFIX}/images")
        def list_images(request: Recorded) -> Any:
            limit = int(request.query.get("limit", [self.page_size])[0])
            start = 0
            marker = request.query.get("marker", [None])[0]
            if marker is not None:
                ids = [i["id"] for i in self.images]
                if marker not in ids:
                    return 400, {"error": f"marker {marker} not found"}
                start = ids.index(marker) + 1
            page = self.images[start : start + limit]
            body: dict[str, Any] = {
                "images": copy.deepcopy(page),
                "first": "/v2/images",
                "schema": "/v2/schemas/images",
            }
            if start + limit < len(self.images):
                body["next"] = f"/v2/images?marker={page[-1]['id']}"
            return body

        @route("GET", f"{PREFIX}/images/{{image_id}}")
        def show(request: Recorded, image_id: str) -> Any:
            found = self.find(image_id)
            return (200, copy.deepcopy(found)) if found else not_found(image_id)

        @route("PATCH", f"{PREFIX}/images/{{image_id}}")
        def update(request: Recorded, image_id: str) -> Any:
            found = self.find(image_id)
            if found is None:
                return not_found(image_id)
            if request.headers.get("content-type") != JSON_PATCH:
                return 415, {"error": "unsupported media type"}
            for op in request.body:
                name = op["path"].lstrip("/")
                if op["op"] == "remove":
                    found.pop(name, None)
                else:
                    found[name] = op["value"]
            return copy.deepcopy(found)

        @route("DELETE", f"{PREFIX}/images/{{image_id}}")
        def delete(request: Recorded, image_id: str) -> Any:
            found = self.find(image_id)
            if found is None:
                return not_found(image_id)
            self.images.remove(found)
            return 204, None

        def set_status(image_id: str, status: str) -> Any:
            found = self.find(image_id)
            if found is None:
                return not_found(image_id)
            found["status"] = status
            return 204, None

        @route("POST", f"{PREFIX}/images/{{image_id}}/actions/deactivate")
        def deactivate(request: Recorded, image_id: str) -> Any:
            return set_status(image_id, "deactivated")

        @route("POST", f"{PREFIX}/images/{{image_id}}/actions/reactivate")
        def reactivate(request: Recorded, image_id: str) -> Any:
            return set_status(image_id, "active")

        @route("PUT", f"{PREFIX}/images/{{image_id}}/tags/{{tag}}")
        def add_tag(request: Recorded, image_id: str, tag: str) -> Any:
            found = self.find(image_id)
            if found is None:
                return not_found(image_id)
            if tag not in found["tags"]:
                found["tags"].append(tag)
            return 204, None

        @route("DELETE", f"{PREFIX}/images/{{image_id}}/tags/{{tag}}")
        def remove_tag(request: Recorded, image_id: str, tag: str) -> Any:
            found = self.find(image_id)
            if found is None or tag not in found["tags"]:
                return not_found(tag)
            found["tags"].remove(tag)
            return 204, None

        @route("POST", f"{PREFIX}/images/{{image_id}}/members")
        def add_member(request: Recorded, image_id: str) -> Any:
            if self.find(image_id) is None:
                return not_found(image_id)
            member = request.body["member"]
            self.members.setdefault(image_id, []).append(member)
            return {
                "created_at": "2024-12-01T10:00:00Z",
                "image_id": image_id,
                "member_id": member,
                "schema": "/v2/schemas/member",
                "status": "pending",
                "updated_at": "2024-12-01T10:00:00Z",
            }

        @route("DELETE", f"{PREFIX}/images/{{image_id}}/members/{{member_id}}")
        def remove_member(request: Recorded, image_id: str, member_id: str) -> Any:
            if member_id not in self.members.get(image_id, []):
                return not_found(member_id)
            self.members[image_id].remove(member_id)
            return 204, None


def not_found(what: str) -> tuple[int, dict[str, Any]]:
    text = f"404 Not Found\n\nNo image found with ID {what}\n\n"
    return 404, {"code": 404, "title": "Not Found", "message": text}
