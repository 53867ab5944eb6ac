"""A one-file Django project for the tests: ``python django_app.py runserver 127.0.0.1:PORT --noreload``."""
import sys

from django.conf import settings

settings.configure(
    DEBUG=False,
    SECRET_KEY="django-insecure-test-key",
    ROOT_URLCONF=__name__,
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    MIDDLEWARE=[],
    INSTALLED_APPS=[],
    LOGGING_CONFIG=None,
)

import hot_work  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.http import HttpResponse  # noqa: E402
from django.urls import path  # noqa: E402


def cpu(request):
    return HttpResponse("spun %d\n" % hot_work.burn(), content_type="text/plain")


def answer(request):
    return HttpResponse(hot_work.answer() + "\n", content_type="text/plain")


urlpatterns = [path("hot", cpu), path("answer", answer)]
application = get_wsgi_application()

if __name__ == "__main__":
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
