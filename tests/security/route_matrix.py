"""The route registry of the authorization matrix: every rule of the URL map, classified.

Each endpoint names the permission a role must hold (`perm`: a code, LOGIN for any logged-in user,
PUBLIC for everyone), whether its URL carries a row owned by a distributor (`foreign`: the matrix
fills it with distributor B's row, so distributor A must get 404 and HQ gets through), and, where
the state-changing method needs more than the page (`post_perm`), that permission. `expect` lists
the documented exceptions, role -> status class, each with its reason in `note`. A rule missing
here fails tests/security/test_route_matrix.py: a new route cannot be forgotten.
"""

from dataclasses import dataclass, field

PUBLIC, LOGIN = "public", "login"


@dataclass(frozen=True)
class R:
    """How one endpoint answers each role (see the module docstring)."""

    perm: str
    foreign: bool = False
    post_perm: str | None = None
    query: str = ""
    args: dict = field(default_factory=dict)
    expect: dict = field(default_factory=dict)
    post_expect: dict | None = None  # None: the same as `expect`
    body: dict = field(default_factory=dict)  # the JSON a refused API call sends (valid, so scoping answers)
    note: str = ""


ROUTES: dict[str, R] = {
    # metrics
    # GET /metrics
    "metrics": R(PUBLIC, note="open while METRICS_TOKEN is unset (the tests); else it wants that bearer token"),
    # accounts
    "accounts.change_password": R(LOGIN),  # GET,POST /account/password
    "accounts.set_password": R(PUBLIC),  # GET,POST /account/set-password/<token>
    "accounts.list_roles": R("roles.manage"),  # GET /admin/roles
    "accounts.edit_role": R("roles.manage"),  # GET,POST /admin/roles/<int:role_id>
    "accounts.create_role": R("roles.manage"),  # GET,POST /admin/roles/new
    "accounts.list_users": R("users.manage"),  # GET /admin/users
    "accounts.edit_user": R("users.manage", foreign=True),  # GET /admin/users/<int:user_id>
    "accounts.update_user": R("users.manage", foreign=True),  # POST /admin/users/<int:user_id>
    "accounts.set_user_active": R("users.manage", foreign=True),  # POST /admin/users/<int:user_id>/active
    "accounts.reset_user_password": R("users.manage", foreign=True),  # POST /admin/users/<int:user_id>/password
    "accounts.create_user": R("users.manage"),  # GET,POST /admin/users/new
    "accounts.login": R(PUBLIC),  # GET,POST /login
    "accounts.logout": R(PUBLIC, note="logging out without a session just goes to the login page"),  # POST /logout
    # api
    "api.issue_token": R(PUBLIC),  # POST /api/auth/token
    "api.list_categories": R("catalog.view"),  # GET /api/categories
    "api.create_category": R("catalog.manage"),  # POST /api/categories
    "api.get_commission": R("commissions.view", foreign=True),  # GET /api/commission/<int:distributor_id>
    "api.create_customer": R("customers.manage"),  # POST /api/customers
    "api.list_customers": R("customers.view"),  # GET /api/customers
    "api.get_customer": R("customers.view", foreign=True),  # GET /api/customers/<int:customer_id>
    "api.submit_distributor_application": R(PUBLIC),  # POST /api/distributor-applications
    # GET /api/distributor-applications/<int:application_id>
    "api.get_distributor_application": R("applications.review"),
    # POST /api/distributor-applications/<int:application_id>/decision
    "api.decide_distributor_application": R("applications.review"),
    "api.set_inventory": R("inventory.manage"),  # PUT /api/inventory/<int:product_id>
    "api.get_inventory": R("inventory.view"),  # GET /api/inventory/<int:product_id>
    "api.me": R(LOGIN),  # GET /api/me
    "api.openapi_document": R(PUBLIC),  # GET /api/openapi.json
    "api.create_order": R("orders.manage"),  # POST /api/orders
    "api.list_orders": R(LOGIN),  # GET /api/orders
    "api.get_order": R(LOGIN, foreign=True),  # GET /api/orders/<int:order_id>
    "api.rate_order": R(LOGIN, foreign=True, body={"score": 5}),  # POST /api/orders/<int:order_id>/rating
    # POST /api/orders/<int:order_id>/transitions
    "api.transition_order": R(LOGIN, foreign=True, body={"to": "cancelled"}),
    "api.create_product": R("catalog.manage"),  # POST /api/products
    "api.list_products": R("catalog.view"),  # GET /api/products
    "api.get_product": R("catalog.view"),  # GET /api/products/<int:product_id>
    # campaigns
    "campaigns.list_campaigns": R("campaigns.manage"),  # GET /campaigns
    "campaigns.show_campaign": R("campaigns.manage"),  # GET /campaigns/<int:campaign_id>
    # POST /campaigns/<int:campaign_id>/<any(approve, start, end, cancel):action>
    "campaigns.move_campaign": R("campaigns.manage"),
    "campaigns.edit_campaign": R("campaigns.manage", expect={"admin": "409"}, post_expect={},
                                    note="the demo campaign has ended: its page says 409"),
    "campaigns.new_campaign": R("campaigns.manage"),  # GET,POST /campaigns/new
    # catalog
    "catalog.list_categories": R("catalog.view"),  # GET /catalog/categories
    "catalog.create_category": R("catalog.manage"),  # POST /catalog/categories
    "catalog.delete_category": R("catalog.manage"),  # POST /catalog/categories/<int:category_id>/delete
    "catalog.rename_category": R("catalog.manage"),  # POST /catalog/categories/<int:category_id>/rename
    "catalog.product_image": R("catalog.view"),  # GET /catalog/images/<int:image_id>
    "catalog.list_products": R("catalog.view"),  # GET /catalog/products
    "catalog.show_product": R("catalog.view"),  # GET /catalog/products/<int:product_id>
    "catalog.edit_product": R("catalog.manage"),  # GET,POST /catalog/products/<int:product_id>/edit
    "catalog.upload_image": R("catalog.manage"),  # POST /catalog/products/<int:product_id>/images
    "catalog.delete_image": R("catalog.manage"),  # POST /catalog/products/<int:product_id>/images/<int:image_id>/delete
    "catalog.set_product_status": R("catalog.manage"),  # POST /catalog/products/<int:product_id>/status
    "catalog.export_products_csv": R("catalog.manage"),  # GET /catalog/products/export.csv
    "catalog.export_products_xlsx": R("catalog.manage"),  # GET /catalog/products/export.xlsx
    "catalog.import_products": R("catalog.manage"),  # GET,POST /catalog/products/import
    "catalog.download_import_report": R("catalog.manage"),  # POST /catalog/products/import/report.csv
    # GET /catalog/products/import/template.<any(csv, xlsx):kind>
    "catalog.download_import_template": R("catalog.manage"),
    "catalog.create_product": R("catalog.manage"),  # GET,POST /catalog/products/new
    "catalog.list_tags": R("catalog.manage"),  # GET /catalog/tags
    # clients
    "clients.list_clients": R("clients.manage"),  # GET /admin/api-clients
    "clients.view_client": R("clients.manage"),  # GET /admin/api-clients/<int:client_pk>
    "clients.set_client_active": R("clients.manage"),  # POST /admin/api-clients/<int:client_pk>/active
    "clients.rotate_client_secret": R("clients.manage"),  # POST /admin/api-clients/<int:client_pk>/secret
    "clients.create_client": R("clients.manage"),  # GET,POST /admin/api-clients/new
    # commissions
    "commissions.overview": R("commissions.view"),  # GET /commissions
    "commissions.adjustment_distributors": R("commissions.manage"),  # GET /commissions/adjustments/distributors
    "commissions.new_adjustment": R("commissions.manage"),  # GET,POST /commissions/adjustments/new
    "commissions.list_entries": R("commissions.view"),  # GET /commissions/entries
    "commissions.hold_entry": R("commissions.view", foreign=True),  # POST /commissions/entries/<int:entry_id>/hold
    # POST /commissions/entries/<int:entry_id>/release
    "commissions.release_entry": R("commissions.view", foreign=True),
    "commissions.list_payouts": R("commissions.manage"),  # GET /commissions/payouts
    "commissions.export_payouts": R("commissions.manage"),  # GET /commissions/payouts.csv
    "commissions.list_rules": R("commissions.view"),  # GET /commissions/rules
    # GET /commissions/rules/<int:version_id>
    "commissions.show_rules": R("commissions.view", args={"version_id": "published_version_id"}),
    "commissions.discard_rules": R("commissions.view"),  # POST /commissions/rules/<int:version_id>/discard
    # GET,POST /commissions/rules/<int:version_id>/edit
    "commissions.edit_rules": R("commissions.manage+scope.all_distributors", expect={"distributor": "404"},
                                note="drafts are invisible outside HQ: 404 before the permission check"),
    "commissions.publish_rules": R("commissions.view"),  # POST /commissions/rules/<int:version_id>/publish
    "commissions.new_rules_draft": R("commissions.view"),  # POST /commissions/rules/new
    "commissions.list_runs": R("commissions.view+scope.all_distributors"),  # GET /commissions/settlements
    "commissions.start_run": R("commissions.manage"),  # POST /commissions/settlements
    # GET /commissions/settlements/<int:run_id>/status
    "commissions.run_status": R("commissions.view+scope.all_distributors"),
    "commissions.simulate": R("commissions.view"),  # GET,POST /commissions/simulator
    "commissions.list_statements": R("commissions.view"),  # GET /commissions/statements
    "commissions.show_statement": R("commissions.view", foreign=True),  # GET /commissions/statements/<int:statement_id>
    # POST /commissions/statements/<int:statement_id>/confirm
    "commissions.confirm_statement": R("commissions.view", foreign=True),
    # POST /commissions/statements/<int:statement_id>/pay
    "commissions.pay_statement": R("commissions.view", foreign=True),
    # GET /commissions/statements/<int:statement_id>/pdf
    "commissions.show_statement_pdf": R("commissions.view", foreign=True),
    # POST /commissions/statements/<int:statement_id>/pdf
    "commissions.request_statement_pdf": R("commissions.view", foreign=True),
    # GET /commissions/statements/<int:statement_id>/statement.pdf
    "commissions.download_statement_pdf": R("commissions.view", foreign=True,
                                            expect={"admin": "404", "reviewer": "404"},
                                            note="no PDF made yet (a job makes it): 404 for HQ too"),
    # core
    "core.home": R(LOGIN),  # GET /
    "core.list_audit": R("audit.view"),  # GET /audit
    "core.healthz": R(PUBLIC),  # GET /healthz
    "core.list_jobs": R(LOGIN),  # GET /jobs
    # GET /jobs/<int:job_id>
    "core.show_job": R(LOGIN, foreign=True, expect={"reviewer": "404"},
                       note="a job is its owner's; jobs.view_all sees all"),
    "core.set_language": R(PUBLIC),  # POST /language
    "core.list_notifications": R(LOGIN),  # GET /notifications
    "core.read_notification": R(LOGIN, foreign=True),  # POST /notifications/<int:notification_id>/read
    "core.notification_bell": R(LOGIN),  # GET /notifications/bell
    "core.read_all_notifications": R(LOGIN),  # POST /notifications/read-all
    # customers
    "customers.list_customers": R("customers.view"),  # GET /customers
    "customers.show_customer": R("customers.view", foreign=True),  # GET /customers/<int:customer_id>
    "customers.add_address": R("customers.view", foreign=True),  # POST /customers/<int:customer_id>/addresses
    # POST /customers/<int:customer_id>/addresses/<int:address_id>/<any(default, remove):action>
    "customers.change_address": R("customers.view", foreign=True),
    "customers.edit_customer": R("customers.manage", foreign=True),  # GET,POST /customers/<int:customer_id>/edit
    # GET /customers/<int:customer_id>/interactions
    "customers.customer_interactions": R("customers.view", foreign=True),
    "customers.log_interaction": R("customers.manage", foreign=True),  # POST /customers/<int:customer_id>/interactions
    "customers.plan_visit": R("customers.manage", foreign=True),  # POST /customers/<int:customer_id>/interactions/plan
    "customers.override_tier": R("customers.view", foreign=True),  # POST /customers/<int:customer_id>/tier
    "customers.export_customers": R("customers.view"),  # GET /customers/export.<any(csv, xlsx):kind>
    "customers.import_customers": R("customers.manage"),  # GET,POST /customers/import
    # GET /customers/import/template.<any(csv, xlsx):kind>
    "customers.download_customer_template": R("customers.manage"),
    "customers.new_customer": R("customers.manage"),  # GET,POST /customers/new
    "customers.tier_rules": R("customers.view"),  # GET /customers/tiers
    "customers.add_tier_rule": R("customers.manage"),  # POST /customers/tiers
    "customers.save_tier_rule": R("customers.manage"),  # POST /customers/tiers/<int:rule_id>
    "customers.delete_tier_rule": R("customers.manage"),  # POST /customers/tiers/<int:rule_id>/delete
    "customers.follow_ups": R("customers.view"),  # GET /follow-ups
    "customers.complete_follow_up": R("customers.view", foreign=True),  # POST /follow-ups/<int:interaction_id>/done
    "customers.cancel_visit": R("customers.manage", foreign=True),  # POST /interactions/<int:interaction_id>/cancel
    "customers.complete_visit": R("customers.manage", foreign=True),  # POST /interactions/<int:interaction_id>/done
    # delivery
    "delivery.my_deliveries": R("deliveries.own"),  # GET /deliveries
    "delivery.deliver_delivery": R("deliveries.own", foreign=True),  # POST /deliveries/<int:order_id>/deliver
    "delivery.rate_delivery": R("deliveries.own", foreign=True),  # POST /deliveries/<int:order_id>/rating
    "delivery.ship_delivery": R("deliveries.own", foreign=True),  # POST /deliveries/<int:order_id>/ship
    "delivery.dispatch_board": R("orders.manage"),  # GET /dispatch
    "delivery.assign_courier": R("orders.manage", foreign=True),  # POST /dispatch/orders/<int:order_id>/courier
    # distributors
    "distributors.list_applications": R("applications.review"),  # GET /applications
    "distributors.show_application": R("applications.review"),  # GET /applications/<int:application_id>
    "distributors.approve_application": R("applications.review"),  # POST /applications/<int:application_id>/approve
    # POST /applications/<int:application_id>/password-link
    "distributors.reissue_password_link": R("applications.review"),
    "distributors.reject_application": R("applications.review"),  # POST /applications/<int:application_id>/reject
    "distributors.start_application_review": R("applications.review"),  # POST /applications/<int:application_id>/review
    "distributors.apply": R(PUBLIC),  # GET,POST /apply
    "distributors.application_status": R(PUBLIC, args={"token": "application_token"}),  # GET /apply/status/<token>
    # POST /apply/status/<token>/withdraw
    "distributors.withdraw_application": R(PUBLIC, args={"token": "application_token"}),
    "distributors.list_distributors": R("distributors.view"),  # GET /distributors
    "distributors.show_distributor": R("distributors.view", foreign=True),  # GET /distributors/<int:distributor_id>
    "distributors.edit_distributor": R("distributors.manage", foreign=True, expect={"distributor": "404"},
                                       note="B is looked up in A's scope (404) before the permission check"),
    # POST /distributors/<int:distributor_id>/grants
    "distributors.grant_territory": R("distributors.view", foreign=True),
    # POST /distributors/<int:distributor_id>/grants/<int:grant_id>/end
    "distributors.end_grant": R("distributors.view", foreign=True),
    # POST /distributors/<int:distributor_id>/reveal-id
    "distributors.reveal_id_number": R("distributors.view", foreign=True),
    # POST /distributors/<int:distributor_id>/status
    "distributors.set_distributor_status": R("distributors.view", foreign=True),
    "distributors.set_target": R("distributors.view", foreign=True),  # POST /distributors/<int:distributor_id>/targets
    # POST /distributors/<int:distributor_id>/targets/<int:target_id>/delete
    "distributors.delete_target": R("distributors.view", foreign=True),
    "distributors.create_distributor": R("distributors.manage"),  # GET,POST /distributors/new
    "distributors.territory_coverage": R("territories.view"),  # GET /territories
    "distributors.territory_gaps": R("territories.view"),  # GET /territories/gaps
    "distributors.export_territory_gaps": R("territories.view"),  # GET /territories/gaps.csv
    "distributors.territory_overlaps": R("territories.view"),  # GET /territories/overlaps
    # inventory
    "inventory.list_stock": R("inventory.view"),  # GET /inventory
    "inventory.list_alerts": R("inventory.view"),  # GET /inventory/alerts
    "inventory.list_batches": R("inventory.view"),  # GET /inventory/batches
    "inventory.list_movements": R("inventory.view"),  # GET /inventory/movements
    "inventory.receive_stock": R("inventory.manage"),  # GET,POST /inventory/receive
    "inventory.receive_line": R("inventory.manage"),  # GET /inventory/receive/line
    "inventory.list_replenishments": R("inventory.view"),  # GET /inventory/replenishment
    "inventory.show_replenishment": R("inventory.view", foreign=True),  # GET /inventory/replenishment/<int:request_id>
    # POST /inventory/replenishment/<int:request_id>/approve
    "inventory.approve_replenishment": R("inventory.manage", foreign=True),
    # POST /inventory/replenishment/<int:request_id>/cancel
    "inventory.cancel_replenishment": R("inventory.manage", foreign=True),
    # POST /inventory/replenishment/<int:request_id>/reject
    "inventory.reject_replenishment": R("inventory.manage", foreign=True),
    "inventory.new_replenishment": R("inventory.manage"),  # GET,POST /inventory/replenishment/new
    "inventory.find_serial": R("inventory.view"),  # GET /inventory/serials
    "inventory.serial_unit": R("inventory.view", foreign=True),  # GET /inventory/serials/<int:unit_id>
    "inventory.write_off_unit": R("inventory.manage", foreign=True),  # POST /inventory/serials/<int:unit_id>/write-off
    "inventory.list_stocktakes": R("inventory.view"),  # GET /inventory/stocktakes
    "inventory.open_stocktake": R("inventory.view"),  # POST /inventory/stocktakes
    "inventory.show_stocktake": R("inventory.view", foreign=True),  # GET /inventory/stocktakes/<int:stocktake_id>
    # POST /inventory/stocktakes/<int:stocktake_id>/cancel
    "inventory.cancel_stocktake": R("inventory.view", foreign=True),
    # POST /inventory/stocktakes/<int:stocktake_id>/counts
    "inventory.save_stocktake_counts": R("inventory.view", foreign=True),
    # POST /inventory/stocktakes/<int:stocktake_id>/lines
    "inventory.add_stocktake_line": R("inventory.view", foreign=True),
    "inventory.post_stocktake": R("inventory.view", foreign=True),  # POST /inventory/stocktakes/<int:stocktake_id>/post
    # GET /inventory/stocktakes/<int:stocktake_id>/review
    "inventory.review_stocktake": R("inventory.view", foreign=True),
    "inventory.set_threshold": R("inventory.manage"),  # POST /inventory/thresholds
    "inventory.list_transfers": R("inventory.view"),  # GET /inventory/transfers
    "inventory.show_transfer": R("inventory.view", foreign=True),  # GET /inventory/transfers/<int:transfer_id>
    # POST /inventory/transfers/<int:transfer_id>/cancel
    "inventory.cancel_transfer": R("inventory.manage", foreign=True),
    # POST /inventory/transfers/<int:transfer_id>/receive
    "inventory.receive_transfer": R("inventory.manage", foreign=True),
    "inventory.new_transfer": R("inventory.manage+scope.all_distributors"),  # GET,POST /inventory/transfers/new
    "inventory.write_off": R("inventory.manage"),  # GET,POST /inventory/write-off
    # network
    "network.tree": R("network.view"),  # GET /network
    # GET /network/distributor-options
    "network.distributor_options": R("distributors.manage+scope.all_distributors", query="field=upline_id&q=a"),
    "network.distributor_network": R("network.view", foreign=True),  # GET /network/distributors/<int:distributor_id>
    "network.move_distributor": R("network.view", foreign=True),  # POST /network/distributors/<int:distributor_id>/move
    "network.cancel_move": R("network.view", foreign=True),  # POST /network/moves/<int:link_id>/cancel
    "network.tree_children": R("network.view", foreign=True),  # GET /network/nodes/<int:distributor_id>/children
    "network.list_teams": R("network.view"),  # GET /network/teams
    "network.show_team": R("network.view", foreign=True),  # GET /network/teams/<int:team_id>
    # GET,POST /network/teams/<int:team_id>/edit
    "network.edit_team": R("distributors.manage+scope.all_distributors", foreign=True, expect={"distributor": "404"},
                           note="the team is looked up (scoped) before the permission check"),
    "network.add_team_member": R("network.view", foreign=True),  # POST /network/teams/<int:team_id>/members
    # POST /network/teams/<int:team_id>/members/<int:distributor_id>/remove
    "network.remove_team_member": R("network.view", foreign=True),
    "network.move_team_member": R("network.view", foreign=True),  # POST /network/teams/<int:team_id>/members/move
    "network.new_team": R("distributors.manage+scope.all_distributors"),  # GET,POST /network/teams/new
    # orders
    "orders.campaign_effect": R("campaigns.manage"),  # GET /campaigns/<int:campaign_id>/effect
    "orders.list_orders": R("orders.view"),  # GET /orders
    "orders.show_order": R("orders.view", foreign=True),  # GET /orders/<int:order_id>
    # POST /orders/<int:order_id>/<any(pay, 'assign-courier', ship, deliver, complete, cancel, refund):move>
    "orders.move_order": R("orders.view", foreign=True),
    "orders.assign_distributor": R("orders.view", foreign=True),  # POST /orders/<int:order_id>/assign-distributor
    "orders.delivery_note": R("orders.view", foreign=True),  # GET /orders/<int:order_id>/delivery-note
    "orders.edit_order": R("orders.manage", foreign=True, expect={"admin": "409", "reviewer": "409"}, post_expect={},
                             note="B's order is past the state where it can be edited: 409 for HQ"),
    "orders.rate_order": R("orders.view", foreign=True),  # POST /orders/<int:order_id>/rate
    "orders.search_customers": R("orders.view"),  # GET /orders/customers
    "orders.customer_history": R("customers.view", foreign=True),  # GET /orders/customers/<int:customer_id>/history
    "orders.customers_satisfaction": R("customers.view"),  # GET /orders/customers/satisfaction
    "orders.price_lines": R("orders.view"),  # POST /orders/lines
    "orders.new_order": R("orders.view"),  # GET,POST /orders/new
    "orders.search_products": R("orders.view"),  # GET /orders/products
    # reports
    "reports.dashboard": R("reports.view"),  # GET /dashboard
    "reports.index": R("reports.view"),  # GET /reports
    "reports.campaigns": R("campaigns.manage+scope.all_distributors"),  # GET /reports/campaigns
    "reports.commissions": R("reports.view"),  # GET /reports/commissions
    # GET /reports/files/<int:report_file_id>.pdf
    "reports.download_report": R("reports.view", foreign=True, expect={"admin": "404", "reviewer": "404"},
                                 note="the report file is not rendered yet: 404 for HQ too"),
    "reports.report_status": R("reports.view", foreign=True),  # GET /reports/files/<int:report_file_id>/status
    "reports.forecasts": R("reports.view"),  # GET /reports/forecasts
    "reports.refresh_forecast": R("reports.view"),  # POST /reports/forecasts/refresh
    "reports.my_reports": R("reports.view"),  # GET /reports/mine
    "reports.request_pdf": R("reports.view"),  # POST /reports/pdf
    "reports.performance": R("reports.view"),  # GET /reports/performance
    "reports.ranking": R("reports.view"),  # GET /reports/ranking
    "reports.reorder_suggestions": R("reports.view"),  # GET /reports/reorder-suggestions
    "reports.fill_reorder": R("reports.view", foreign=True),  # GET /reports/reorder-suggestions/<int:warehouse_id>/fill
    "reports.sales": R("reports.view"),  # GET /reports/sales
    "reports.satisfaction": R("reports.view"),  # GET /reports/satisfaction
    "reports.scorecard": R("reports.view"),  # GET /reports/scorecard
    # GET /reports/scorecard/distributors/<int:distributor_id>
    "reports.scorecard_history": R("reports.view", foreign=True),
    "reports.recompute_scorecard": R("reports.view"),  # POST /reports/scorecard/recompute
    "reports.scorecard_weights": R("distributors.manage+scope.all_distributors"),  # GET,POST /reports/scorecard/weights
    "reports.trend": R("reports.view"),  # GET /reports/trend
    "reports.turnover": R("reports.view"),  # GET /reports/turnover
    # territories
    "territories.region_options": R(PUBLIC),  # GET /regions/options
    "territories.region_picker": R(PUBLIC),  # GET /regions/picker
    "territories.search_regions": R(PUBLIC),  # GET /regions/search
}
