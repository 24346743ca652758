"""ledger: one hash chain per person, sealed under Merkle anchors

New entries chain to the previous entry of the same person (`chain`, `chain_seq`) instead of
the site group's, so consent writes of one group no longer queue behind the group's row; the
sealer then puts every entry under a Merkle anchor (`ledger_anchor`, `anchor_id`).

Entries already written keep their hashes (the receipts handed out stay true) and their place
in their group's old chain (`seq`): that chain is frozen, and its length and head, until now
kept on `site_group` (`ledger_seq`, `ledger_head`), are recorded here as each group's first
anchor, of kind "legacy". `flask ledger verify` goes on checking the old chain against it, and
the sealer's first runs seal the old entries under Merkle anchors like the new ones, so they
get inclusion proofs too.

Locks, on PostgreSQL: adding three nullable columns, dropping NOT NULL on `seq` and dropping
the two `site_group` columns take an ACCESS EXCLUSIVE lock for a moment each (no rewrite, no
scan). The three new indexes on `ledger_entry` are built CONCURRENTLY (no write lock; a scan of
the table each, minutes for tens of millions of rows, while serving), the unique one then
attached as a constraint and the foreign key validated without blocking writes. On SQLite the
table is rebuilt (batch mode), holding the database's write lock for the copy.

Revision ID: 68bf277babf5
Revises: 7c3e1f0a2b9d
Create Date: 2026-12-01 15:49:48.800573

"""
import hashlib
import json
from datetime import UTC, datetime

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '68bf277babf5'
down_revision = '7c3e1f0a2b9d'
branch_labels = None
depends_on = None

BIG = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def _statement_hash(fields):
    """portal.core.consent.merkle.anchor_hash, written out: a migration imports no portal."""
    canonical = json.dumps({"v": 1, **fields}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _legacy_anchors(bind):
    """Each group's old chain (length, head) as its first anchor, before the columns go."""
    anchor = sa.table(
        'ledger_anchor',
        *(sa.column(name) for name in (
            'group_id', 'seq', 'kind', 'count', 'root', 'first_entry', 'last_entry',
            'prev_hash', 'hash',
        )),
        sa.column('sealed_at', sa.DateTime(timezone=True)),
    )
    now = datetime.now(UTC)
    # SQLite keeps no zone: UTC without one, as the model's UTCDateTime writes it.
    stored = now.replace(tzinfo=None) if bind.dialect.name == 'sqlite' else now
    groups = bind.execute(sa.text(
        "SELECT id, ledger_seq, ledger_head FROM site_group WHERE ledger_seq > 0 ORDER BY id"
    )).all()
    for group_id, count, head in groups:
        ends = {}
        for end in (1, count):  # through the (group_id, seq) key: two look-ups, no scan
            ends[end] = bind.scalar(
                sa.text("SELECT id FROM ledger_entry WHERE group_id = :g AND seq = :s"),
                {"g": group_id, "s": end},
            )
        fields = {
            "group": group_id, "seq": 1, "kind": "legacy", "count": count, "root": head,
            "first_entry": ends[1], "last_entry": ends[count], "prev": "",
            "sealed_at": now.isoformat(timespec="microseconds"),
        }
        bind.execute(anchor.insert().values(
            group_id=group_id, seq=1, kind="legacy", count=count, root=head,
            first_entry=ends[1], last_entry=ends[count], prev_hash="", sealed_at=stored,
            hash=_statement_hash(fields),
        ))


def upgrade():
    bind = op.get_bind()
    postgresql = bind.dialect.name == 'postgresql'
    op.create_table('ledger_anchor',
    sa.Column('id', BIG, nullable=False),
    sa.Column('group_id', BIG, nullable=False),
    sa.Column('seq', BIG, nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('count', BIG, nullable=False),
    sa.Column('root', sa.String(length=64), nullable=False),
    sa.Column('first_entry', BIG, nullable=True),
    sa.Column('last_entry', BIG, nullable=True),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('sealed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.Column('signature', sa.String(length=128), nullable=True),
    sa.Column('public_key', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['group_id'], ['site_group.id'], name=op.f('fk_ledger_anchor_group_id_site_group')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_anchor')),
    sa.UniqueConstraint('group_id', 'seq', name=op.f('uq_ledger_anchor_group_id_seq')),
    sqlite_autoincrement=True
    )
    _legacy_anchors(bind)
    with op.batch_alter_table('ledger_entry', schema=None) as batch_op:
        batch_op.add_column(sa.Column('chain', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('chain_seq', BIG, nullable=True))
        batch_op.add_column(sa.Column('anchor_id', BIG, nullable=True))
        batch_op.alter_column('seq', existing_type=BIG, nullable=True)
        if not postgresql:
            batch_op.create_index(batch_op.f('ix_ledger_entry_anchor_id'), ['anchor_id'], unique=False)
            batch_op.create_index('ix_ledger_entry_unsealed', ['group_id', 'id'], unique=False, sqlite_where=sa.text('anchor_id IS NULL'))
            batch_op.create_unique_constraint(batch_op.f('uq_ledger_entry_chain_chain_seq'), ['chain', 'chain_seq'])
            batch_op.create_foreign_key(batch_op.f('fk_ledger_entry_anchor_id_ledger_anchor'), 'ledger_anchor', ['anchor_id'], ['id'])
    with op.batch_alter_table('site_group', schema=None) as batch_op:
        batch_op.drop_column('ledger_head')
        batch_op.drop_column('ledger_seq')
    if postgresql:
        op.execute(
            "ALTER TABLE ledger_entry ADD CONSTRAINT fk_ledger_entry_anchor_id_ledger_anchor "
            "FOREIGN KEY (anchor_id) REFERENCES ledger_anchor (id) NOT VALID"
        )
        with op.get_context().autocommit_block():
            op.execute("CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_ledger_entry_anchor_id ON ledger_entry (anchor_id)")
            op.execute(
                "CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_ledger_entry_unsealed "
                "ON ledger_entry (group_id, id) WHERE anchor_id IS NULL"
            )
            op.execute(
                "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS uq_ledger_entry_chain_chain_seq "
                "ON ledger_entry (chain, chain_seq)"
            )
        op.execute(
            "ALTER TABLE ledger_entry ADD CONSTRAINT uq_ledger_entry_chain_chain_seq "
            "UNIQUE USING INDEX uq_ledger_entry_chain_chain_seq"
        )
        op.execute("ALTER TABLE ledger_entry VALIDATE CONSTRAINT fk_ledger_entry_anchor_id_ledger_anchor")


def downgrade():
    """Back to the group chains: only while no entry of a person's chain exists (those cannot
    go back into a group's single chain without new hashes)."""
    bind = op.get_bind()
    if bind.scalar(sa.text("SELECT count(*) FROM ledger_entry WHERE chain IS NOT NULL")):
        raise RuntimeError(
            "entries were written in per-person chains since the upgrade: they have no place in "
            "the old group chains; restore the backup taken before the upgrade instead"
        )
    with op.batch_alter_table('site_group', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ledger_seq', BIG, nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('ledger_head', sa.VARCHAR(length=64), nullable=False, server_default=''))
    bind.execute(sa.text(
        "UPDATE site_group SET ledger_seq = a.count, ledger_head = a.root FROM ledger_anchor a "
        "WHERE a.group_id = site_group.id AND a.kind = 'legacy'"
    ))
    with op.batch_alter_table('ledger_entry', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_ledger_entry_anchor_id_ledger_anchor'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('uq_ledger_entry_chain_chain_seq'), type_='unique')
        batch_op.drop_index('ix_ledger_entry_unsealed', postgresql_where=sa.text('anchor_id IS NULL'), sqlite_where=sa.text('anchor_id IS NULL'))
        batch_op.drop_index(batch_op.f('ix_ledger_entry_anchor_id'))
        batch_op.alter_column('seq', existing_type=BIG, nullable=False)
        batch_op.drop_column('anchor_id')
        batch_op.drop_column('chain_seq')
        batch_op.drop_column('chain')
    op.drop_table('ledger_anchor')
