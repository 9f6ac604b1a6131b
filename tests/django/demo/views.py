"""The tutorial views, for a live demo against a running Django (manage.py runserver)."""

from django.contrib.auth import get_user_model, login, logout
from django.http import HttpResponse, HttpResponseBadRequest

DEMO_PASSWORD = "sk-demo-password"


def text(body):
    return HttpResponse(body, content_type="text/plain; charset=utf-8")


def counter(request):
    count = request.session.get("count", 0) + 1
    request.session["count"] = count
    return text(f"Visit count: {count}")


def color_set(request):
    color = request.GET.get("color")
    if not color:
        return HttpResponseBadRequest("missing ?color=")
    request.session["favorite_color"] = color
    return text("Color saved")


def color_get(request):
    return text(f"Favorite color: {request.session.get('favorite_color', 'unknown')}")


def login_view(request):
    name = request.GET.get("user")
    if not name:
        return HttpResponseBadRequest("missing ?user=")
    user, created = get_user_model().objects.get_or_create(username=name)
    if created:
        user.set_password(DEMO_PASSWORD)
        user.save()
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    return text(f"Logged in as {name}")


def logout_view(request):
    logout(request)
    return text("Logged out")


def whoami(request):
    user = request.user
    return text(user.get_username() if user.is_authenticated else "anonymous")
