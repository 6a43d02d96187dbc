"""Safety broadcasts on a schedule, ad-hoc staff notices and the weekly digest."""
