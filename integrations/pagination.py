"""The API's page size rules (its own module: DRF imports it while loading its generic views,
so it must not import those views itself)."""

from rest_framework.pagination import PageNumberPagination


class Pagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
