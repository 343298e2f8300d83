# One command to run the app, one to run every test. See README.md.
VENV     ?= .venv
PY       := $(VENV)/bin/python
HOST     ?= 127.0.0.1
PORT     ?= 8000
PG_URL   ?= postgres://root@127.0.0.1:5432/test
REDIS    ?= redis://127.0.0.1:6379/0

.PHONY: install dev-db run token embed-demo screenshots test test-sqlite test-services prod messages bench-check

$(VENV)/.installed: requirements.txt requirements-dev.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

# The development database: migrated, with the demo users.
dev-db: install
	@DJANGO_DEBUG=1 $(PY) manage.py migrate -v 0
	@DJANGO_DEBUG=1 $(PY) manage.py demo_users >/dev/null

## run: migrate, create the demo users (alice, bob, carol / callkit-demo) and serve on http://$(HOST):$(PORT)/
run: dev-db
	DJANGO_DEBUG=1 $(PY) -m daphne -b $(HOST) -p $(PORT) callkit_web.asgi:application

## token: print an embed token for the user WHO (default alice) of the development server: make token WHO=bob
WHO ?= alice
token: dev-db
	@DJANGO_DEBUG=1 $(PY) manage.py callkit_token $(WHO)

## embed-demo: the app on $(PORT) allowing http://localhost:$(HOST_PORT) to frame it, and the example host
## page (static/examples/host.html) served there, opened with a fresh token for the user WHO (default alice)
HOST_PORT ?= 8001
embed-demo: dev-db
	@echo "Host page: http://localhost:$(HOST_PORT)/host.html?server=http://$(HOST):$(PORT)&token=$$(DJANGO_DEBUG=1 $(PY) manage.py callkit_token $(WHO) --ttl 3600)"
	@echo "(the token opens the frame once; run 'make token WHO=…' for another.) Log in as bob at http://$(HOST):$(PORT)/ to call."
	$(PY) -m http.server -b 127.0.0.1 -d static/examples $(HOST_PORT) & trap "kill $$!" EXIT; \
	DJANGO_DEBUG=1 CALLKIT_EMBED_ORIGINS=http://localhost:$(HOST_PORT) $(PY) -m daphne -b $(HOST) -p $(PORT) callkit_web.asgi:application

## prod: migrate, collectstatic and serve N daphne processes on 127.0.0.1:8001… with DEBUG off
## (docs/deployment.md; needs DJANGO_SECRET_KEY, and REDIS_URL for N > 1)
N ?= 2
prod: install
	deploy/run-prod.sh $(N)

## test: the whole suite, on SQLite + in-memory layer, then on PostgreSQL + Redis
test: test-sqlite test-services

test-sqlite: install
	env -u DATABASE_URL -u REDIS_URL $(VENV)/bin/pytest

test-services: install
	DATABASE_URL=$(PG_URL) REDIS_URL=$(REDIS) $(VENV)/bin/pytest

## bench-check: call setup against its thresholds (bench/check.py; Chromium, a quiet machine, about two minutes)
bench-check: install
	$(PY) bench/check.py

## screenshots: the gallery in docs/screenshots/ (every page and call state, desktop and phone, light and
## dark, English and 简体中文; Chinese needs a CJK font: apt-get install fonts-noto-cjk)
screenshots: install
	$(PY) tools/screenshots.py

## messages: re-extract the translatable strings into locale/zh_Hans (needs gettext), then compile them
MSG_IGNORE := -i .venv -i staticfiles -i static/vendor -i calls/tests -i bench -i docs -i deploy
messages: install
	DJANGO_DEBUG=1 $(PY) manage.py makemessages -l zh_Hans --no-location --no-obsolete $(MSG_IGNORE)
	DJANGO_DEBUG=1 $(PY) manage.py makemessages -d djangojs -l zh_Hans --no-location --no-obsolete $(MSG_IGNORE)
	DJANGO_DEBUG=1 $(PY) manage.py compilemessages -l zh_Hans --ignore .venv
