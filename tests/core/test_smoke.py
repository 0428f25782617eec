"""The shell answers: login page, home after login, security headers."""


def test_login_page_is_chinese_by_default(client):
    response = client.get("/login")
    assert response.status_code == 200
    assert 'lang="zh-CN"' in response.get_data(as_text=True)


def test_home_requires_login_and_then_shows_navigation(client, login_as):
    assert client.get("/").status_code == 302
    login_as("admin")
    page = client.get("/").get_data(as_text=True)
    assert "/admin/users" in page and "/audit" in page
