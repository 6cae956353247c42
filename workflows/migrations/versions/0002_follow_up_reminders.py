"""follow-up reminders: human_task.follow_up_notified_at; indexes for the scheduler's escalation scans

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from alembic import op
import sqlalchemy as sa
import workflows.schema

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('human_task', schema=None) as batch_op:
        batch_op.add_column(sa.Column('follow_up_notified_at', workflows.schema.UTCDateTime(timezone=True),
                                      nullable=True))
        batch_op.create_index('ix_human_task_escalation', ['escalation_level', 'due_at'], unique=False)
        batch_op.create_index('ix_human_task_follow_up_pending', ['follow_up_notified_at', 'follow_up_at'],
                              unique=False)
    # Follow-ups that passed before reminders existed are not announced all at once after the upgrade.
    op.execute("UPDATE human_task SET follow_up_notified_at = follow_up_at "
               "WHERE follow_up_at IS NOT NULL AND follow_up_at <= CURRENT_TIMESTAMP")


def downgrade() -> None:
    with op.batch_alter_table('human_task', schema=None) as batch_op:
        batch_op.drop_index('ix_human_task_follow_up_pending')
        batch_op.drop_index('ix_human_task_escalation')
        batch_op.drop_column('follow_up_notified_at')
