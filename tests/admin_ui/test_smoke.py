import pytest

from admin_ui.seed import DEMO_EMAIL
from topology.seed import seed_demo


@pytest.mark.django_db
def test_healthz_answers(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_seed_demo_is_idempotent():
    first = seed_demo()
    second = seed_demo()
    assert first.tenant.pk == second.tenant.pk
    assert first.tenant.memberships.filter(user__email=DEMO_EMAIL).count() == 1
