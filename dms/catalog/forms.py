"""Catalog forms: products (with prices), images, status, categories.

The forms check only shapes; the services own the rules and name the fields they refuse, which
`dms.core.forms.submit` puts back beside these fields (FIELD_ALIASES maps the services' names).
"""

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField
from wtforms import SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import Length, Optional

from dms.catalog.models import TRACKING
from dms.core.forms import AppForm

TRACKING_LABELS = {"none": _l("No tracking"), "batch": _l("By batch and expiry date"),
                   "serial": _l("By serial number (one by one)")}
STATUS_LABELS = {"available": _l("Available"), "unavailable": _l("Unavailable"), "pending": _l("Pending")}
LEVEL_LABELS = {"province": _l("Province"), "city": _l("City"), "county": _l("County")}
# The services' field names -> this module's field names.
FIELD_ALIASES = {"price": "price", "distributor_prices.province": "price_province",
                 "distributor_prices.city": "price_city", "distributor_prices.county": "price_county",
                 "distributor_price": "price_province"}
MONEY = {"inputmode": "decimal", "autocomplete": "off"}


class ProductForm(AppForm):
    """A product with its retail price and the distributor price of each level."""

    name = StringField(_l("Name"), validators=[Length(max=200)])
    sku = StringField(_l("SKU"), validators=[Optional(), Length(max=64)], render_kw={"autocomplete": "off"})
    category_id = SelectField(_l("Category"), choices=[])
    tags = StringField(_l("Tags"), validators=[Optional(), Length(max=500)])
    unit = StringField(_l("Unit"), validators=[Optional(), Length(max=16)], default="件")
    tracking = SelectField(_l("Stock tracking"), choices=[SelectChoice(t, TRACKING_LABELS[t]) for t in TRACKING],
                           default="none")
    low_stock_threshold = StringField(_l("Low-stock threshold"), validators=[Optional(), Length(max=10)],
                                      default="0", render_kw={"inputmode": "numeric"})
    image_url = StringField(_l("Image address"), validators=[Optional(), Length(max=500)],
                            render_kw={"inputmode": "url"})
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=5000)])
    price = StringField(_l("Retail price (¥)"), validators=[Optional(), Length(max=20)], render_kw=MONEY)
    price_province = StringField(_l("Province distributor price (¥)"), validators=[Optional(), Length(max=20)],
                                 render_kw=MONEY)
    price_city = StringField(_l("City distributor price (¥)"), validators=[Optional(), Length(max=20)],
                             render_kw=MONEY)
    price_county = StringField(_l("County distributor price (¥)"), validators=[Optional(), Length(max=20)],
                               render_kw=MONEY)

    def data_for_service(self) -> dict:
        """The fields as the services (and the API) name them."""
        return {"name": self.name.data, "sku": self.sku.data, "category_id": self.category_id.data or None,
                "tags": self.tags.data or "", "unit": self.unit.data, "tracking": self.tracking.data,
                "low_stock_threshold": self.low_stock_threshold.data, "image_url": self.image_url.data,
                "description": self.description.data, "price": self.price.data,
                "distributor_prices": {"province": self.price_province.data, "city": self.price_city.data,
                                       "county": self.price_county.data}}


class ImageForm(AppForm):
    """Upload one image (its content is checked by the service)."""

    image = FileField(_l("Image (JPEG, PNG, GIF or WebP)"), render_kw={"accept": "image/jpeg,image/png,image/gif,"
                                                                                 "image/webp"})


class StatusForm(AppForm):
    """Make a product available or unavailable."""

    status = SelectField(_l("Status"), choices=[SelectChoice("available", STATUS_LABELS["available"]),
                                                SelectChoice("unavailable", STATUS_LABELS["unavailable"])])


class CategoryForm(AppForm):
    """A new category under a parent (none: a top-level category)."""

    name = StringField(_l("Name"), validators=[Length(max=64)])
    parent_id = SelectField(_l("Parent"), choices=[])


class RenameCategoryForm(AppForm):
    """A category's new name."""

    name = StringField(_l("New name"), validators=[Length(max=64)])


class ConfirmForm(AppForm):
    """An empty form: carries the CSRF token of an action confirmed in the browser."""
