from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"

    def ready(self) -> None:
        from billing.seats import seat_cap
        from billing.tasks import bill_seats_soon
        from tenants.services.seats import register_seat_cap, seats_changed

        register_seat_cap(seat_cap)
        seats_changed.connect(bill_seats_soon, dispatch_uid="billing.bill_seats")
