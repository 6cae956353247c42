"""web app: documents on cases, server-side sessions, login attempts

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from alembic import op
import sqlalchemy as sa
import workflows.schema
from sqlalchemy.dialects import postgresql

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')
WHEN = workflows.schema.UTCDateTime(timezone=True)
BIGINT = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('document',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('instance_id', sa.String(length=64), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('media_type', sa.String(length=64), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('uploaded_by', sa.String(length=255), nullable=True),
    sa.Column('uploaded_at', WHEN, nullable=False),
    sa.ForeignKeyConstraint(['instance_id'], ['process_instance.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'))
    op.create_index('ix_document_instance_id', 'document', ['instance_id'], unique=False)
    op.create_index('ix_document_sha256', 'document', ['sha256'], unique=False)
    op.create_table('web_session',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.String(length=255), nullable=True),
    sa.Column('data', JSON, nullable=False),
    sa.Column('created_at', WHEN, nullable=False),
    sa.Column('expires_at', WHEN, nullable=False),
    sa.PrimaryKeyConstraint('id'))
    op.create_index('ix_web_session_user_id', 'web_session', ['user_id'], unique=False)
    op.create_index('ix_web_session_expires_at', 'web_session', ['expires_at'], unique=False)
    op.create_table('login_attempt',
    sa.Column('id', BIGINT, autoincrement=True, nullable=False),
    sa.Column('username', sa.String(length=255), nullable=False),
    sa.Column('address', sa.String(length=64), nullable=False),
    sa.Column('attempted_at', WHEN, nullable=False),
    sa.Column('success', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id'))
    op.create_index('ix_login_attempt_username_time', 'login_attempt', ['username', 'attempted_at'], unique=False)
    op.create_index('ix_login_attempt_address_time', 'login_attempt', ['address', 'attempted_at'], unique=False)


def downgrade() -> None:
    op.drop_table('login_attempt')
    op.drop_table('web_session')
    op.drop_table('document')
