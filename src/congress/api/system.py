"""``/v1/system/drivers``: the installed and permitted datasource drivers.

May import WebOb, congress.api and congress.services.
"""

from __future__ import annotations

from typing import Any

import webob

from congress.api import wire
from congress.api.services import Services


def list_drivers(req: webob.Request, s: Services) -> dict[str, Any]:
    if s.datasources is None:
        raise wire.BadRequest("No datasource host on this node")
    return {"results": s.datasources.drivers()}


def show_driver(req: webob.Request, s: Services, driver: str) -> dict[str, Any]:
    if s.datasources is None:
        raise wire.BadRequest("No datasource host on this node")
    result: dict[str, Any] = s.datasources.driver_info(driver)
    return result
