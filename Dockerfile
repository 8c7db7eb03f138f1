# The gateway image: the same `hgw` commands as everywhere else.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY gateway ./gateway
COPY adapters ./adapters
COPY fhir_profiles ./fhir_profiles
COPY conformance ./conformance
RUN pip install --no-cache-dir . && useradd --create-home hgw && mkdir /data && chown hgw /data
USER hgw
ENV HGW_DATA_DIR=/data HGW_HOST=0.0.0.0 HGW_PORT=8000
EXPOSE 8000
CMD ["sh", "-c", "hgw db upgrade && exec hgw serve"]
