"""Django admin for users and calls; bills are read-only."""

from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from .login_throttle import ThrottleAwareFormMixin
from .models import Call, User


class ThrottleAwareAdminAuthenticationForm(ThrottleAwareFormMixin, AdminAuthenticationForm):
    """The admin's login form, saying "too many attempts" when the login throttle holds it back."""


admin.site.login_form = ThrottleAwareAdminAuthenticationForm


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    fieldsets = BaseUserAdmin.fieldsets + (("Calls", {"fields": ("display_name",)}),)
    list_display = ("username", "display_name", "email", "is_active", "is_staff")
    search_fields = ("username", "display_name", "email")


@admin.register(Call)
class CallAdmin(admin.ModelAdmin):
    list_display = ("id", "caller", "callee", "media", "state", "status", "end_reason", "created_at", "duration")
    list_filter = ("status", "state", "media", "initial_media", "end_reason", "created_at")
    date_hierarchy = "created_at"
    show_full_result_count = False  # no COUNT(*) over a million bills on every page
    search_fields = ("caller__username", "callee__username", "caller__display_name", "callee__display_name")
    list_select_related = ("caller", "callee")

    def has_add_permission(self, request):  # calls are made by calling, not by typing
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
