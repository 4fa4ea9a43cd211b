from django.db import models

from crm_platform.fields import user_reference


class Note(models.Model):
    title = models.CharField(max_length=100)
    owner = user_reference()

    def __str__(self) -> str:
        return self.title
