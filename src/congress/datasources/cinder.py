"""The ``cinder`` driver: OpenStack Block Storage volumes, attachments, snapshots, services.

Imports: standard library and congress.datasources.

The driver reads the Block Storage API v3 JSON through openstacksdk's ``block_storage`` proxy
(catalog type ``block-storage``, or one of its aliases ``volumev3``, ``volume``): the catalog
URL may carry the project id (``.../v3/<project_id>``) or not; openstacksdk discovers the
version and the microversions the cloud supports.

- ``volumes``: ``GET /volumes/detail?all_tenants=1``, every page (``volumes_links``);
  ``attachments`` has one row per element of a volume's ``attachments``;
- ``snapshots``: ``GET /snapshots/detail?all_tenants=1``;
- ``services``: ``GET /os-services``.

Values are as the API gives them (``bootable`` is the API's text ``"true"``/``"false"``,
``encrypted`` and ``multiattach`` booleans become ``"True"``/``"False"``).

Actions keep the original's cinderclient names (``volumes.extend``...) and call the proxy's
methods (``extend_volume``...).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar
from urllib.parse import quote

from congress.datasources import translators as tr
from congress.datasources.errors import ServiceError
from congress.datasources.execution import (
    Action,
    bool_arg,
    int_arg,
    keys_arg,
    metadata_arg,
    owner_at,
    target_arg,
)
from congress.datasources.openstack import OPENSTACK_DRIVER_OPTIONS, OpenStackDriver
from congress.datasources.options import Option

VOLUMES = tr.HDict(
    table="volumes",
    fields=[
        tr.Field("id", desc="The UUID of the volume"),
        tr.Field("size", desc="The size of the volume, in gibibytes (GiB)"),
        tr.Field("user_id", desc="UUID of the user who created the volume"),
        tr.Field("status", desc="The volume status"),
        tr.Field("description", desc="The volume description"),
        tr.Field("name", desc="The volume name"),
        tr.Field("bootable", desc="Enables or disables the bootable attribute"),
        tr.Field("created_at", desc="The date and time when the volume was created"),
        tr.Field("volume_type", desc="The name of the volume type"),
        tr.Field("encrypted", desc="If true, the volume is encrypted"),
        tr.Field("availability_zone", desc="The name of the availability zone"),
        tr.Field("replication_status", desc="The volume replication status"),
        tr.Field("multiattach", desc="If true, the volume can attach to more than one instance"),
        tr.Field("snapshot_id", desc="The UUID of the source volume snapshot"),
        tr.Field("source_volid", desc="The UUID of the source volume"),
        tr.Field("consistencygroup_id", desc="The UUID of the consistency group"),
        tr.Field("migration_status", desc="The volume migration status"),
        tr.Field(
            "attachments",
            tr.HDict(
                table="attachments",
                parent_key="id",
                parent_col_name="volume_id",
                parent_key_desc="UUID of the volume",
                in_list=True,
                fields=[
                    tr.Field("server_id", desc="The UUID of the attaching server"),
                    tr.Field("attachment_id", desc="The UUID of the attachment"),
                    tr.Field("host_name", desc="The name of the attaching host"),
                    tr.Field("device", desc="The device name on the server"),
                ],
            ),
        ),
    ],
)

SNAPSHOTS = tr.HDict(
    table="snapshots",
    fields=[
        tr.Field("id", desc="The UUID of the snapshot"),
        tr.Field("size", desc="The size of the snapshot, in gibibytes (GiB)"),
        tr.Field("status", desc="The snapshot status"),
        tr.Field("volume_id", desc="The UUID of the volume of the snapshot"),
        tr.Field("name", desc="The name of the snapshot"),
        tr.Field("created_at", desc="The date and time when the snapshot was created"),
    ],
)

SERVICES = tr.HDict(
    table="services",
    fields=[
        tr.Field("status", desc="The status of the service: enabled or disabled"),
        tr.Field("binary", desc="The binary name of the service"),
        tr.Field("zone", desc="The availability zone name"),
        tr.Field("state", desc="The state of the service: up or down"),
        tr.Field("updated_at", desc="The date and time of the service's last update"),
        tr.Field("host", desc="The name of the host"),
        tr.Field("disabled_reason", desc="The reason for disabling the service"),
    ],
)

# root table -> (path, collection key, query)
SOURCES: Mapping[str, tuple[str, str, Mapping[str, Any]]] = {
    "volumes": ("/volumes/detail", "volumes", {"all_tenants": 1}),
    "snapshots": ("/snapshots/detail", "snapshots", {"all_tenants": 1}),
    "services": ("/os-services", "services", {}),
}

_VOLUME = ("volume", "ID of the volume")
_HOST = ("host", "host of the service, e.g. controller@lvmdriver-1")
_BINARY = ("binary", "binary of the service, e.g. cinder-volume")

CINDER_ACTIONS: Mapping[str, Action] = {
    "volumes.delete": Action("Delete a volume.", (_VOLUME,), "volumes_delete"),
    "volumes.force_delete": Action(
        "Delete a volume whatever its state.", (_VOLUME,), "volumes_force_delete"
    ),
    "volumes.extend": Action(
        "Extend the size of a volume.",
        (_VOLUME, ("new_size", "the new size, in GiB")),
        "volumes_extend",
    ),
    "volumes.set_bootable": Action(
        "Set or unset the bootable flag of a volume.",
        (_VOLUME, ("flag", "True or False")),
        "volumes_set_bootable",
    ),
    "volumes.set_metadata": Action(
        "Set or update metadata items of a volume.",
        (_VOLUME, ("metadata", "the items to set: an object (or its JSON text)")),
        "volumes_set_metadata",
    ),
    "volumes.delete_metadata": Action(
        "Delete metadata items of a volume.",
        (_VOLUME, ("keys", "the keys to delete: a list (or its JSON text, or one key)")),
        "volumes_delete_metadata",
    ),
    "volumes.reset_state": Action(
        "Reset the state of a volume (admin).",
        (
            _VOLUME,
            ("state", "the new status, e.g. available or error"),
            ("attach_status", "the new attach status (optional)"),
            ("migration_status", "the new migration status (optional)"),
        ),
        "volumes_reset_state",
    ),
    "volumes.detach": Action(
        "Detach a volume (mark it detached after the server let it go).",
        (_VOLUME, ("attachment_id", "ID of the attachment")),
        "volumes_detach",
    ),
    "volume_snapshots.delete": Action(
        "Delete a snapshot.", (("snapshot", "ID of the snapshot"),), "volume_snapshots_delete"
    ),
    "services.enable": Action(
        "Enable a Block Storage service.", (_HOST, _BINARY), "services_enable"
    ),
    "services.disable": Action(
        "Disable a Block Storage service.", (_HOST, _BINARY), "services_disable"
    ),
}


class CinderDriver(OpenStackDriver):
    """Datasource driver for OpenStack Block Storage (Cinder)."""

    DRIVER_NAME: ClassVar[str] = "cinder"
    DESCRIPTION: ClassVar[str] = "Datasource driver that interfaces with OpenStack cinder."
    SERVICE_TYPE: ClassVar[str] = "block-storage"
    PROXY: ClassVar[str] = "block_storage"
    CONFIG: ClassVar[Mapping[str, Option]] = OPENSTACK_DRIVER_OPTIONS
    TRANSLATORS: ClassVar[tuple[tr.TableSpec, ...]] = (VOLUMES, SNAPSHOTS, SERVICES)
    ACTIONS: ClassVar[Mapping[str, Action]] = CINDER_ACTIONS

    def fetch(self, root: str) -> Any:
        path, key, params = SOURCES[root]
        return self.list_all(path, key, params)

    # -- actions ------------------------------------------------------------------------------
    def target_project(
        self,
        action: str,
        positional: Sequence[Any] = (),
        named: Mapping[str, Any] | None = None,
    ) -> str | None:
        """A volume's (``os-vol-tenant-attr:tenant_id``) or snapshot's
        (``os-extended-snapshot-attributes:project_id``) project; None for the services'
        actions and a target that cannot be read."""
        if action.startswith("volumes."):
            arg, path, key, field = "volume", "/volumes/", "volume", "os-vol-tenant-attr:tenant_id"
        elif action == "volume_snapshots.delete":
            arg, path, key = "snapshot", "/snapshots/", "snapshot"
            field = "os-extended-snapshot-attributes:project_id"
        else:
            return None
        target = target_arg(positional, named, arg)
        if target is None:
            return None
        try:
            return owner_at(self.get_json(path + quote(target, safe="")), key, field)
        except ServiceError:
            return None

    def volumes_delete(self, volume: Any) -> None:
        self.service.delete_volume(str(volume), ignore_missing=False)

    def volumes_force_delete(self, volume: Any) -> None:
        self.service.delete_volume(str(volume), ignore_missing=False, force=True)

    def volumes_extend(self, volume: Any, new_size: Any) -> None:
        self.service.extend_volume(str(volume), int_arg(new_size, "new_size"))

    def volumes_set_bootable(self, volume: Any, flag: Any) -> None:
        self.service.set_volume_bootable_status(str(volume), bool_arg(flag, "flag"))

    def volumes_set_metadata(self, volume: Any, metadata: Any) -> None:
        self.service.set_volume_metadata(str(volume), **metadata_arg(metadata))

    def volumes_delete_metadata(self, volume: Any, keys: Any) -> None:
        self.service.delete_volume_metadata(str(volume), keys_arg(keys))

    def volumes_reset_state(
        self,
        volume: Any,
        state: Any,
        attach_status: Any = None,
        migration_status: Any = None,
    ) -> None:
        self.service.reset_volume_status(
            str(volume),
            status=str(state),
            attach_status=None if attach_status is None else str(attach_status),
            migration_status=None if migration_status is None else str(migration_status),
        )

    def volumes_detach(self, volume: Any, attachment_id: Any) -> None:
        self.service.detach_volume(str(volume), str(attachment_id))

    def volume_snapshots_delete(self, snapshot: Any) -> None:
        self.service.delete_snapshot(str(snapshot), ignore_missing=False)

    def services_enable(self, host: Any, binary: Any) -> None:
        self.service.enable_service(self._service_ref(host, binary))

    def services_disable(self, host: Any, binary: Any) -> None:
        self.service.disable_service(self._service_ref(host, binary))

    @staticmethod
    def _service_ref(host: Any, binary: Any) -> Any:
        from openstack.block_storage.v3 import service

        return service.Service(host=str(host), binary=str(binary))
