#!/bin/sh
# Renders the TLS front's configuration from the environment, then runs nginx.
set -eu
: "${API_LISTEN:=443}" "${RELAY_LISTEN:=8443}"
: "${SERVER_UPSTREAM:=server:8000}" "${RELAY_UPSTREAM:=relay:8765}"
: "${TLS_CERT:=/etc/ems-tls/server.crt}" "${TLS_KEY:=/etc/ems-tls/server.key}"
: "${CLIENT_CA:=/etc/ems-tls/device-ca-chain.pem}" "${CLIENT_VERIFY:=optional}"
export API_LISTEN RELAY_LISTEN SERVER_UPSTREAM RELAY_UPSTREAM TLS_CERT TLS_KEY CLIENT_CA CLIENT_VERIFY
envsubst '${API_LISTEN} ${RELAY_LISTEN} ${SERVER_UPSTREAM} ${RELAY_UPSTREAM} ${TLS_CERT} ${TLS_KEY} ${CLIENT_CA} ${CLIENT_VERIFY}' \
  < /etc/nginx/ems.conf.template > /etc/nginx/conf.d/ems.conf
nginx -t
exec nginx -g 'daemon off;'
