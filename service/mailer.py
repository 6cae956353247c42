"""Send the e-mail outbox over SMTP after commit (settings: smtp_*). Failures wait and retry with backoff."""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage

from service.runtime import Runtime
from workflows import notifications

log = logging.getLogger("kimflow.mailer")


def send_outbox(runtime: Runtime, *, limit: int = 50) -> int:
    """Send due messages; each is claimed, sent outside any transaction, then marked. Returns messages sent."""
    settings = runtime.settings
    if not settings.smtp_host:
        return 0
    with runtime.command() as ctx:
        batch = [(m.id, m.recipient, m.subject, m.body) for m in notifications.claim_due_mail(ctx, limit=limit)]
    sent = 0
    for message_id, recipient, subject, body in batch:
        error = _send(runtime, recipient, subject, body)
        with runtime.command() as ctx:
            if error is None:
                notifications.mark_sent(ctx, message_id)
                sent += 1
            else:
                notifications.mark_failed(ctx, message_id, error)
    return sent


def _send(runtime: Runtime, recipient: str, subject: str, body: str) -> str | None:
    settings = runtime.settings
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = recipient
    message["Subject"] = subject
    message.set_content(body)
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=15) as smtp:
            if settings.smtp_starttls:
                smtp.starttls()
            if settings.smtp_user:
                smtp.login(settings.smtp_user, settings.smtp_password)
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as error:
        log.warning("sending mail to %s failed: %s", recipient, error)
        return str(error) or error.__class__.__name__
    return None
