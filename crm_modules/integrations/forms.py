from django import forms
from django.utils.translation import gettext_lazy as _

from tenants.forms import ServiceForm


class ApiKeyForm(ServiceForm):
    name = forms.CharField(label=_("Name"), required=False, max_length=100)
    read_only = forms.BooleanField(label=_("Read-only"), required=False)
