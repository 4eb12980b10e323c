# Placeholder for poload's 0001_load (the load's link and intent models): empty here so that
# 0002_runs can name it; the lead keeps poload's file instead of this one.
from django.db import migrations


class Migration(migrations.Migration):
    dependencies: list = []
    operations: list = []
