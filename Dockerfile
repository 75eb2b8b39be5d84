# One image for the migrations (`npm run migrate`), the worker (`npm run worker`) and the API (`npm run api`,
# the default); docker-compose.yml runs all three. tsx runs the TypeScript as is, so the dev dependencies stay.
FROM node:20-bookworm-slim
WORKDIR /app
# swagger-ui-dist depends on @scarf/scarf, whose install script reports downloads: not from our image.
ENV SCARF_ANALYTICS=false
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
ENV NODE_ENV=production PORT=3000
# The code is root's and read-only to the processes.
USER node
EXPOSE 3000
CMD ["npm", "run", "api"]
