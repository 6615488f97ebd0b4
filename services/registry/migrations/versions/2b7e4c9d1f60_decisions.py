"""decisions as records of their own; certifications name their decision, their revoke decision,
the revocation's reason code and whether the province proposed the product for national evaluation.

Backfill: one decision per (authority, number, date) of the certifications (compared folded, as
the registry matches them), linked to its certifications; one revoke decision per (authority of the
certificate, revocation number, revocation date) of the revoked ones.

Revision ID: 2b7e4c9d1f60
Revises: 2a9e4d7b5c31
Create Date: 2026-12-12 12:00:00.000000
"""

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from shared.text import fold

revision = "2b7e4c9d1f60"
down_revision = "2a9e4d7b5c31"
branch_labels = None
depends_on = None

KIND_OF = {"new": "certify", "recertification": "recertify", "upgrade": "upgrade"}


def upgrade() -> None:
    op.create_table(
        "decisions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("number", sa.String(length=100), nullable=False),
        sa.Column("decision_date", sa.Date(), nullable=False),
        sa.Column("issued_by", sa.String(length=200), nullable=False),
        sa.Column("number_key", sa.String(length=100), nullable=False),
        sa.Column("issued_by_key", sa.String(length=200), nullable=False),
        sa.Column("level", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("criteria_version", sa.String(length=40), nullable=True),
        sa.Column("reason_code", sa.String(length=40), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decisions")),
        sa.UniqueConstraint("issued_by_key", "number_key", "decision_date", name=op.f("uq_decisions_issued_by_key")),
    )
    op.create_index("ix_decisions_decision_date_id", "decisions", ["decision_date", "id"], unique=False)
    op.create_index("ix_decisions_kind_level", "decisions", ["kind", "level"], unique=False)
    with op.batch_alter_table("certifications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("decision_id", sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column("revocation_decision_id", sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column("revocation_reason_code", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("proposed_for_national", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.create_index(batch_op.f("ix_certifications_decision_id"), ["decision_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_certifications_revocation_decision_id"), ["revocation_decision_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_certifications_decision_id_decisions"), "decisions", ["decision_id"], ["id"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_certifications_revocation_decision_id_decisions"),
            "decisions",
            ["revocation_decision_id"],
            ["id"],
        )
    backfill(op.get_bind())


def backfill(conn) -> None:
    certs = sa.table(
        "certifications",
        sa.column("id"),
        sa.column("kind"),
        sa.column("stars"),
        sa.column("level"),
        sa.column("criteria_version"),
        sa.column("issued_by"),
        sa.column("decision_number"),
        sa.column("decision_date"),
        sa.column("status"),
        sa.column("revoked_reason"),
        sa.column("revocation_decision_number"),
        sa.column("revocation_decision_date"),
        sa.column("decision_id"),
        sa.column("revocation_decision_id"),
    )
    decisions = sa.table(
        "decisions",
        *(
            sa.column(c)
            for c in (
                "id",
                "number",
                "decision_date",
                "issued_by",
                "number_key",
                "issued_by_key",
                "level",
                "kind",
                "criteria_version",
                "reason_code",
                "reason",
                "recorded_by",
                "created_at",
            )
        ),
    )
    rows = conn.execute(sa.select(certs).order_by(certs.c.decision_date, certs.c.id)).mappings().all()
    made: dict[tuple, dict] = {}
    links, revoke_links = [], []
    now = datetime.now(UTC)

    def decision(issued_by, number, day, **fields) -> dict:
        key = (fold(issued_by)[:200], fold(number)[:100], day)
        if key not in made:  # the first spelling met names it
            made[key] = {
                "id": str(uuid.uuid4()),
                "number": number,
                "decision_date": day,
                "issued_by": issued_by,
                "issued_by_key": key[0],
                "number_key": key[1],
                "recorded_by": "migration 2b7e4c9d1f60",
                "created_at": now,
                "reason_code": None,
                "reason": None,
                "criteria_version": None,
                "kinds": set(),
                **fields,
            }
        return made[key]

    for r in rows:
        d = decision(
            r["issued_by"],
            r["decision_number"],
            r["decision_date"],
            level="province",
            kind="certify",
            criteria_version=r["criteria_version"],
        )
        d["kinds"].add(KIND_OF.get(r["kind"], "certify"))
        if r["stars"] == 5 or r["level"] == "national":
            d["level"] = "national"
        links.append({"c_id": r["id"], "d_id": d["id"]})
    for d in made.values():
        d["kind"] = d["kinds"].pop() if len(d["kinds"]) == 1 else "certify"
    for r in rows:
        if r["status"] == "revoked" and r["revocation_decision_number"] and r["revocation_decision_date"]:
            d = decision(
                r["issued_by"],
                r["revocation_decision_number"],
                r["revocation_decision_date"],
                level="province",
                kind="revoke",
                reason=(r["revoked_reason"] or None),
            )
            revoke_links.append({"c_id": r["id"], "d_id": d["id"]})
    if made:
        conn.execute(decisions.insert(), [{k: v for k, v in d.items() if k != "kinds"} for d in made.values()])
    if links:
        conn.execute(
            certs.update().where(certs.c.id == sa.bindparam("c_id")).values(decision_id=sa.bindparam("d_id")), links
        )
    if revoke_links:
        conn.execute(
            certs.update()
            .where(certs.c.id == sa.bindparam("c_id"))
            .values(revocation_decision_id=sa.bindparam("d_id")),
            revoke_links,
        )


def downgrade() -> None:
    with op.batch_alter_table("certifications", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_certifications_revocation_decision_id_decisions"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("fk_certifications_decision_id_decisions"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_certifications_revocation_decision_id"))
        batch_op.drop_index(batch_op.f("ix_certifications_decision_id"))
        batch_op.drop_column("proposed_for_national")
        batch_op.drop_column("revocation_reason_code")
        batch_op.drop_column("revocation_decision_id")
        batch_op.drop_column("decision_id")
    op.drop_index("ix_decisions_kind_level", table_name="decisions")
    op.drop_index("ix_decisions_decision_date_id", table_name="decisions")
    op.drop_table("decisions")
