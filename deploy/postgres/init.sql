-- One database per service: no service reads another's tables.
CREATE DATABASE registry ENCODING 'UTF8' TEMPLATE template0;
CREATE DATABASE events ENCODING 'UTF8' TEMPLATE template0;
CREATE DATABASE notifications ENCODING 'UTF8' TEMPLATE template0;
