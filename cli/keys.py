"""``baoxue key rotate``: re-encrypt every stored ID and phone number under a new key.

    NEW_ENCRYPTION_KEY=<new> baoxue key rotate          # ENCRYPTION_KEY holds the old key
    baoxue key rotate --new-key <new>                   # the same (the key lands in shell history)

Before: every running process (bot, web workers, senders) gets NEW_ENCRYPTION_KEY beside
ENCRYPTION_KEY and is restarted, so all of them read either key while the rotation runs.
After: ENCRYPTION_KEY is set to the new key, NEW_ENCRYPTION_KEY removed, and they are
restarted again. Interrupted, the command is simply run again: it resumes.
"""

from __future__ import annotations

import typer

from casework.clock import SystemClock, to_db
from cli.common import boot_or_exit

NEW_KEY_OPTION = typer.Option(
    None, "--new-key", envvar="NEW_ENCRYPTION_KEY", show_default=False,
    help="The new key (default: the NEW_ENCRYPTION_KEY setting). Make one with: baoxue key generate",
)


def key_rotate(
    new_key: str | None = NEW_KEY_OPTION,
    batch_size: int = typer.Option(500, min=1, max=100_000, help="Rows per committed batch."),
) -> None:
    """Re-encrypt every encrypted value and remake every lookup hash under a new key.

    Resumable: run it again after a crash and it goes on where it stopped."""
    from sqlmodel import Session

    from bot.runtime import encryption_keys
    from bot.settings import get_settings
    from casework import keys
    from casework.personal import Cipher
    from models.tables import AuditEvent

    settings = get_settings()
    new_key = (new_key or settings.new_encryption_key or "").strip()
    if not new_key:
        typer.echo("no new key: pass --new-key or set NEW_ENCRYPTION_KEY "
                   "(make one with: baoxue key generate)", err=True)
        raise typer.Exit(2)
    settings.new_encryption_key = new_key
    rt = boot_or_exit(migrate=True)
    cipher = Cipher(*encryption_keys(settings))
    clock = SystemClock()

    def report(progress: keys.Progress) -> None:
        if progress.batches % 20 == 0:
            typer.echo(f"… {progress.values_done} values re-encrypted")

    try:
        done = keys.rotate(rt.engine, cipher, clock, batch_size=batch_size, after_batch=report)
    except keys.RotationError as err:
        typer.echo(str(err), err=True)
        raise typer.Exit(1) from err
    key_ids = cipher.key_ids
    with Session(rt.engine) as session:
        session.add(AuditEvent(at=to_db(clock.now()), actor_id=None, action="key.rotate", object_type="key",
                               object_id=done.rotation_id,
                               detail={"new_key_id": key_ids[0], "old_key_id": key_ids[1],
                                       "values": done.values_done, "via": "cli"}))
        session.commit()
    typer.echo(f"Done: {done.values_done} values are now under the new key (id {key_ids[0]}).")
    typer.echo("Now set ENCRYPTION_KEY to the new key in every process's environment, remove "
               "NEW_ENCRYPTION_KEY, and restart them. Keep the old key (id "
               f"{key_ids[1]}) only as long as backups made before today are kept.")
