from django.contrib.auth.views import LoginView
from django.urls import path

from demo import views

urlpatterns = [
    path("", views.counter),
    path("color/set", views.color_set),
    path("color/get", views.color_get),
    path("login", views.login_view),
    path("logout", views.logout_view),
    path("whoami", views.whoami),
    # Django's real login view (the driver's `login-view`), its template in
    # demo/templates/registration/login.html.
    path("accounts/login/", LoginView.as_view()),
]
