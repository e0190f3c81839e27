"""Websocket consumers of live monitoring: a member's page joins its tenant's or one topology's group and hears
coarse "changed" notices (processes/events.py sends them); it then re-reads state over HTTP."""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from processes.events import tenant_group, topology_group

# Close codes the browser client treats as final (no reconnect loop): not allowed, not found.
REFUSED = 4403
NOT_FOUND = 4404


@database_sync_to_async
def _current_tenant(user: Any, session: Any) -> Any:
    """The tenant the member's pages show (the session's choice), as for HTTP requests; None for non-members."""
    from admin_ui.tenancy import SESSION_KEY, current_membership

    membership = current_membership(user, session.get(SESSION_KEY) if session is not None else None)
    return membership.tenant if membership is not None else None


@database_sync_to_async
def _topology_in_tenant(*, tenant: Any, topology_id: int) -> bool:
    from django.http import Http404

    from topology.selectors import topology_get

    try:
        topology_get(tenant=tenant, pk=topology_id)
    except Http404:
        return False
    return True


class LiveConsumer(AsyncJsonWebsocketConsumer):
    """Joins the group of the session's current tenant, or of one of its topologies; refuses everyone else."""

    group: str | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=REFUSED)
            return
        tenant = await _current_tenant(user, self.scope.get("session"))
        if tenant is None:
            await self.close(code=REFUSED)
            return
        topology_id = self.scope["url_route"]["kwargs"].get("topology_id")
        if topology_id is None:
            self.group = tenant_group(tenant.pk)
        elif await _topology_in_tenant(tenant=tenant, topology_id=int(topology_id)):
            self.group = topology_group(tenant.pk, int(topology_id))
        else:
            # Another tenant's topology looks exactly like a missing one.
            await self.close(code=NOT_FOUND)
            return
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        """Pages only listen; anything they send is ignored."""

    async def live_changed(self, event: dict[str, Any]) -> None:
        payload = {k: v for k, v in event.items() if k != "type"}
        await self.send_json({"type": "changed", **payload})
