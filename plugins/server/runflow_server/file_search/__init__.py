"""File search: vector stores, ingestion, chunking, BM25 and hybrid search, the routes."""

from .embeddings import Embedder, OpenAIEmbeddings
from .routes import vector_store_routes
from .service import FileSearch
from .tool import FileSearchTool

__all__ = ["Embedder", "FileSearch", "FileSearchTool", "OpenAIEmbeddings", "vector_store_routes"]
