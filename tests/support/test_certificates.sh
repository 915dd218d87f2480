#!/bin/sh
# Writes a throw-away PKI with the openssl CLI into the current directory:
#   ca.crt/ca.key, server.crt/server.key (localhost, 127.0.0.1), client.crt/client.key (CN $1,
#   clientAuth), server2.crt/server2.key (a second server certificate for reload tests).
set -e
agent=${1:-agent-1}
ec="-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"
openssl req -x509 $ec -keyout ca.key -out ca.crt -subj /CN=rotor-test-ca -days 2 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' > server.ext
printf 'extendedKeyUsage=clientAuth\n' > client.ext
for name in server server2; do
  openssl req $ec -keyout $name.key -out $name.csr -subj /CN=localhost 2>/dev/null
  openssl x509 -req -in $name.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out $name.crt -days 2 \
    -extfile server.ext 2>/dev/null
done
openssl req $ec -keyout client.key -out client.csr -subj "/CN=$agent" 2>/dev/null
openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out client.crt -days 2 \
  -extfile client.ext 2>/dev/null
