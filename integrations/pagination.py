"""The API's page size rules (its own module: DRF imports it while loading its generic views,
so it must not import those views itself)."""

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination

from integrations.filters import MAX_ID


class Pagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    page_size_query_description = "Results per page (50 unless given; more than 500 gives 500)."

    def get_page_size(self, request):
        # DRF falls back to the default for a page size that is not a positive number; the
        # schema says an integer of at least 1, so anything else is refused, not guessed.
        given = request.query_params.get(self.page_size_query_param)
        if not given:  # absent, or given empty
            return self.page_size
        try:
            size = int(given)
        except ValueError:
            size = 0
        if not 1 <= size <= MAX_ID:
            raise ValidationError(
                {self.page_size_query_param: ["A whole number of at least 1 (and 64 bits)."]}
            )
        return min(size, self.max_page_size)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {**parameter["schema"], "minimum": 1}
        return parameters
