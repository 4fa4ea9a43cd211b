# ElastiCache Redis: Celery broker, cache and Channels layer. Encrypted in transit and at rest,
# AUTH token, a replica in another zone with automatic failover.

variable "name" { type = string }
variable "vpc_id" { type = string }
variable "subnet_ids" { type = list(string) }
variable "client_security_group" { type = string }
variable "node_type" { type = string }

resource "random_password" "auth" {
  length  = 48
  special = false
}

resource "aws_security_group" "redis" {
  name        = "${var.name}-redis"
  description = "Redis from the cluster only"
  vpc_id      = var.vpc_id

  ingress {
    description     = "Redis from pods and nodes"
    from_port       = 6379
    to_port         = 6379
    protocol        = "tcp"
    security_groups = [var.client_security_group]
  }
}

resource "aws_elasticache_subnet_group" "main" {
  name       = var.name
  subnet_ids = var.subnet_ids
}

resource "aws_kms_key" "redis" {
  description         = "${var.name} Redis at rest"
  enable_key_rotation = true
}

resource "aws_elasticache_replication_group" "main" {
  replication_group_id = var.name
  description          = "Rapport: Celery broker, cache, channel layer"
  engine               = "redis"
  engine_version       = "7.1"
  node_type            = var.node_type
  port                 = 6379
  parameter_group_name = "default.redis7"

  num_cache_clusters         = 2
  automatic_failover_enabled = true
  multi_az_enabled           = true

  subnet_group_name  = aws_elasticache_subnet_group.main.name
  security_group_ids = [aws_security_group.redis.id]

  at_rest_encryption_enabled = true
  kms_key_id                 = aws_kms_key.redis.arn
  transit_encryption_enabled = true
  auth_token                 = random_password.auth.result

  snapshot_retention_limit = 1
}

output "url" {
  value     = "rediss://:${random_password.auth.result}@${aws_elasticache_replication_group.main.primary_endpoint_address}:6379/0?ssl_cert_reqs=required"
  sensitive = true
}
