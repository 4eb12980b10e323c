from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction

from integrations.connections import encryption


class Command(BaseCommand):
    help = (
        "Re-encrypt every encrypted value with the first key of FIELD_ENCRYPTION_KEYS. Put the new "
        "key first, keep the old ones after it, run this, then drop the old keys."
    )

    def handle(self, *args, **options):
        total = 0
        for model in apps.get_models():
            fields = encryption.encrypted_fields(model)
            if not fields:
                continue
            names = [field.name for field in fields]
            count = 0
            with transaction.atomic():
                for row in (
                    model._base_manager.select_for_update()
                    .only("pk", *names)
                    .iterator(chunk_size=500)
                ):
                    # Reading decrypted with whichever key wrote it; writing encrypts with the first.
                    model._base_manager.filter(pk=row.pk).update(
                        **{name: getattr(row, name) for name in names}
                    )
                    count += 1
            total += count
            self.stdout.write(
                f"  {model._meta.label}: {count} row(s) re-encrypted ({', '.join(names)})"
            )
        self.stdout.write(
            self.style.SUCCESS(f"Done: {total} row(s) now use key {encryption.current_key_id()}.")
        )
